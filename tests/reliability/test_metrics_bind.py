"""A worker process serves its metrics on ``METRICS_HOST`` only: loopback unless told otherwise."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from acquire.settings import Settings
from acquire.testing.reliability.fleet import Fleet, fleet_env


def _listening_addresses(pid: int, port: int) -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


async def _serving(fleet: Fleet, index: int) -> None:
    async with asyncio.timeout(60):
        while await fleet.current_jobs(index) is None:  # noqa: ASYNC110 (another process; nothing to await)
            await asyncio.sleep(0.1)


@pytest.mark.timeout(120)
async def test_a_worker_serves_metrics_on_loopback_by_default(settings: Settings, tmp_path: Path) -> None:
    with Fleet(fleet_env(settings), tmp_path / "logs", metrics=True) as fleet:
        fleet.start(1)
        await _serving(fleet, 0)
        assert _listening_addresses(fleet.procs[0].pid, fleet.metrics_ports[0]) == {"127.0.0.1"}


def test_metrics_host_is_a_checked_setting() -> None:
    assert Settings().metrics_host == "127.0.0.1"
    assert Settings(metrics_host="::").metrics_host == "::"
    with pytest.raises(ValidationError, match="metrics_host"):
        Settings(metrics_host="every interface")
