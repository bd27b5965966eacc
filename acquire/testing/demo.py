"""``acquire demo``: every job kind end to end, offline, on one machine.

Starts the embedded Redis (unless ``REDIS_URL`` is set), a local replay of the recorded SEC
EDGAR and Yahoo Finance responses shipped in the repository, an in-process worker and the
dashboard web app; submits an SEC, an XBRL, a Yahoo and a risk-drift job (NVIDIA, fiscal 2025
vs 2024); draws a progress bar per job from its event stream; prints a summary of each
result. Nothing reaches the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from acquire.client import AcquireClient, JobHandle
from acquire.models import JobStatus
from acquire.progress import describe_event, progress_line
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.replay import ReplayServer, default_fixtures_dir
from acquire.worker import create_worker

__all__ = ["DEMO_JOBS", "run_demo"]

ORG = "demo"
DEMO_API_KEY = "demo-key-0123456789"
DEMO_JOBS: list[dict[str, Any]] = [
    {"kind": "sec_filings", "companies": ["NVDA"], "form_types": ["10-K"], "years": [2024, 2025]},
    {
        "kind": "xbrl_facts",
        "companies": ["NVDA"],
        "years": [2024, 2025],
        "metrics": ["revenue", "net_income", "eps_diluted", "total_assets", "operating_cash_flow"],
    },
    {
        "kind": "yahoo",
        "companies": ["AAPL"],
        "parts": ["profile", "metrics", "history"],
        "start": "2020-08-31T00:00:00Z",
        "end": "2020-11-07T00:00:00Z",
    },
    {"kind": "risk_drift", "ticker": "NVDA", "years": [2025, 2024]},
]


def _free_port(preferred: int) -> int:
    """``preferred`` if it is free, else any free port (0 asks for any)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _environment() -> AsyncIterator[Settings]:
    fixtures = default_fixtures_dir()
    if not fixtures.is_dir():
        raise RuntimeError(f"recorded responses not found at {fixtures}: run the demo from a source checkout")
    redis_server: EmbeddedRedis | None = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis_server = EmbeddedRedis(tempfile.mkdtemp(prefix="acquire-demo-")).start()
        redis_url = redis_server.url
        print(f"acquire demo: REDIS_URL not set, using embedded Redis at {redis_url}")
    replay = ReplayServer(fixtures).start()
    try:
        yield Settings(
            redis_url=redis_url,
            sec_user_agent="acquire demo demo@example.com",
            **replay.settings_overrides(),
            metrics_port=0,
            logging_level="WARNING",
            acquire_data_dir=tempfile.mkdtemp(prefix="acquire-demo-data-"),
        )
    finally:
        replay.stop()
        if redis_server is not None:
            redis_server.stop()


def summarise(kind: str, status: JobStatus, result: dict[str, Any]) -> list[str]:
    """A few human lines about a finished job."""
    lines = [f"{kind}: {status.state.value}" + (f" ({status.error})" if status.error else "")]
    if kind == "sec_filings":
        for company in result.get("companies", []):
            for f in company.get("filings", []):
                size, digest = f.get("size", 0), str(f.get("sha256", ""))[:12]
                lines.append(
                    f"  {company['company']} {f['form']} FY{f['fiscal_year']} {f['accession']} "
                    f"{size:,} bytes sha256 {digest}"
                )
    elif kind == "xbrl_facts":
        for company in result.get("companies", []):
            for name, metric in company.get("metrics", {}).items():
                values = ", ".join(f"FY{v['fiscal_year']} {v['value']:,}" for v in metric.get("values", []))
                lines.append(f"  {company['company']} {name}: {values or metric.get('status')}")
    elif kind == "yahoo":
        for company in result.get("companies", []):
            lines.extend(f"  {line}" for line in _yahoo_lines(company))
    elif kind == "risk_drift":
        lines.extend(f"  {line}" for line in _risk_lines(result))
    return lines


def _yahoo_lines(company: dict[str, Any]) -> list[str]:
    lines = []
    profile = company.get("profile") or {}
    if profile:
        lines.append(
            f"{company.get('company')}: {profile.get('name')} ({profile.get('sector')}, "
            f"{profile.get('industry')})"
        )
    history = company.get("history") or {}
    bars = history.get("bars") or history.get("prices") or []
    closes = [b.get("close") for b in bars if b.get("close") is not None]
    if closes:
        lines.append(f"price range {min(closes):.2f} - {max(closes):.2f} over {len(closes)} days")
    metrics = company.get("metrics") or {}
    if metrics:
        cap, pe = metrics.get("market_cap") or 0, metrics.get("trailing_pe")
        lines.append(f"market cap {cap:,.0f}, trailing P/E {pe}")
    return lines or [str(company.get("error", "no data"))]


def _risk_lines(result: dict[str, Any]) -> list[str]:
    counts = result.get("counts") or {}
    lines = [", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no factors"]
    changes = result.get("changes") or []
    for status in ("new", "removed"):
        lines += [f"{status}: {c['heading'][:90]}" for c in changes if c.get("status") == status][:3]
    modified = [c for c in changes if c.get("status") == "modified" and c.get("similarity")]
    modified.sort(key=lambda c: c["similarity"]["simple"])
    lines += [f"changed ({c['similarity']['simple']:.2f}): {c['heading'][:80]}" for c in modified[:3]]
    summary = str(result.get("executive_summary") or "").splitlines()
    return lines + summary[:1]


async def _follow(client: AcquireClient, job: JobHandle, kind: str, row: int, rows: int, tty: bool) -> None:
    progress, label, last = 0, "queued", "0"
    async for event in job.events(after=last):
        last = event.id
        progress = 100 if event.event.value == "job_completed" else int(event.data.get("progress", progress))
        label = describe_event(event)
        line = progress_line(kind, job.job_id, progress, label)[:100]
        if tty:
            up = rows - row
            sys.stdout.write(f"\x1b[{up}A\r\x1b[2K{line}\x1b[{up}B\r")
            sys.stdout.flush()
        elif event.event.terminal:
            print(line)


async def run_demo(*, once: bool, port: int = 8765) -> int:
    """Run the demo; returns the exit code (0 when every job completed)."""
    import uvicorn
    from starlette.applications import Starlette

    from acquire.web import api_key_authorizer, create_router

    async with _environment() as settings:
        worker = create_worker(settings)
        worker_task = asyncio.create_task(worker.async_run())
        client = await AcquireClient.connect(settings)
        router = create_router(client, api_key_authorizer({DEMO_API_KEY: ORG}), token_secret=os.urandom(32))
        app = Starlette()
        app.mount("/acquire", router)
        with contextlib.suppress(ImportError):
            dashboard = importlib.import_module("acquire.web.dashboard")
            app.mount("/", dashboard.create_dashboard("/acquire"))
        port = _free_port(port)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        server_task = asyncio.create_task(server.serve())
        try:
            jobs = [(spec["kind"], await client.submit(ORG, spec)) for spec in DEMO_JOBS]
            tty = sys.stdout.isatty()
            # The key rides in the fragment: browsers never send it, so no server or proxy logs it.
            link = f"dashboard: http://127.0.0.1:{port}/#key={DEMO_API_KEY}  (org: {ORG})"
            print(link)
            if tty:
                print("\n" * (len(jobs) - 1))
            followers = (_follow(client, job, kind, i, len(jobs), tty) for i, (kind, job) in enumerate(jobs))
            await asyncio.wait_for(asyncio.gather(*followers), timeout=600)
            ok = True
            for kind, job in jobs:
                status = await job.status()
                ok &= status.state.value == "completed"
                result = await job.result() if status.state.final else {}
                print("\n".join(summarise(kind, status, result)))
            print(link)
            if not once:
                print("serving the dashboard; Ctrl-C to stop")
                await server_task
            return 0 if ok else 1
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server_task, 10)
            await router.aclose()
            await client.close()
            await worker.close()
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker_task
