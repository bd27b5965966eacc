"""The README's main command runs every job kind end to end (embedded Redis, recorded data)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_once_runs_all_four_jobs_to_completion() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "SEC_", "ACQUIRE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "acquire", "demo", "--once", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr[-3000:] + out[-3000:]
    for kind in ("sec_filings", "xbrl_facts", "yahoo", "risk_drift"):
        assert f"{kind}: completed" in out
    assert "NVDA 10-K FY2025 0001045810-25-000023" in out
    assert "NVDA revenue: FY2024 60,922,000,000, FY2025 130,497,000,000" in out
    assert "AAPL: Apple Inc." in out
    assert "removed: Our indebtedness could adversely affect" in out
    assert "dashboard: http://127.0.0.1:" in out and "/#key=demo-key-" in out
    assert "using embedded Redis" in out
