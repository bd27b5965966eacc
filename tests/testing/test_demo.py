"""The README's main command runs every job kind end to end (embedded Redis, recorded data)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.processes import Lines, kill_if_running, redis_servers


@pytest.mark.timeout(240)
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


def _steps(out: str) -> dict[str, str]:
    """The demo's "try next" lines: label -> command."""
    steps = {}
    for line in out.split("try next", 1)[1].splitlines()[1:]:
        label, _, command = line.strip().partition(":   ")
        steps[label] = command.strip()
    return steps


def _acquire_cli(command: str, env: dict[str, str], **subst: str) -> subprocess.CompletedProcess[str]:
    """Run a printed ``[VAR=value ...] acquire ...`` line with this checkout's interpreter."""
    words = shlex.split(command)
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env = {**env, name: value}
    assert words[0] == "acquire"
    args = [subst.get(word, word) for word in words[1:]]
    return subprocess.run(
        [sys.executable, "-m", "acquire", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _curl(command: str) -> dict[str, object]:
    """The printed curl line: run by curl where there is one, and always as the same request."""
    words = shlex.split(command)
    assert words[0] == "curl"
    options: dict[str, list[str]] = {"-X": [], "-H": [], "-d": []}
    urls, rest = [], iter(words[1:])
    for word in rest:
        if word in options:
            options[word].append(next(rest))
        elif not word.startswith("-"):
            urls.append(word)
    (url,), (method,), (body,) = urls, options["-X"], options["-d"]
    headers = dict(header.split(": ", 1) for header in options["-H"])
    if shutil.which("curl"):
        ran = subprocess.run(words, capture_output=True, text=True, timeout=60, check=True)
        assert json.loads(ran.stdout)["status"] == "queued"
    response = httpx.request(method, url, headers=headers, content=body, timeout=30)
    assert response.status_code == 202, response.text
    return dict(response.json())


@pytest.mark.timeout(300)  # a demo run, three CLI runs and four jobs on a busy machine
def test_demo_serves_says_what_to_try_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "SEC_", "ACQUIRE_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "acquire", "demo", "--port", "0"],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    out = Lines(proc.stdout)
    try:
        assert out.wait_for("  over HTTP:", 180), str(out)[-3000:]
        steps = _steps(str(out))
        assert set(steps) == {"dashboard", "submit", "follow it", "over HTTP"}
        redis_url = shlex.split(steps["submit"])[0].removeprefix("REDIS_URL=")
        (redis,) = redis_servers(redis_url.removeprefix("unix://"))
        page = httpx.get(steps["dashboard"], timeout=30)
        assert page.status_code == 200 and "acquire" in page.text
        link = urlsplit(steps["dashboard"])
        assert link.query == "" and link.fragment == "key=demo-key-0123456789"  # never sent to a server
        submitted = _acquire_cli(steps["submit"], env)
        assert submitted.returncode == 0, submitted.stderr
        followed = _acquire_cli(steps["follow it"], env, JOB_ID=submitted.stdout.strip())
        assert followed.returncode == 0, followed.stderr  # the job ran to "completed"
        over_http = _curl(steps["over HTTP"])
        status = _acquire_cli(
            f"{steps['follow it'].split(' acquire ')[0]} acquire watch {over_http['job_id']} --org demo", env
        )
        assert status.returncode == 0, status.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, str(out)[-3000:]
        redis.wait(timeout=30)
    finally:
        kill_if_running(proc)
    assert redis_servers(redis_url.removeprefix("unix://")) == []
