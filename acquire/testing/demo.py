"""``acquire demo``: every job kind end to end, offline, on one machine.

Starts the embedded Redis (unless ``REDIS_URL`` is set), a local replay of the recorded SEC
EDGAR and Yahoo Finance responses shipped in this package (``recordings/``, so an installed
wheel runs it too), an in-process worker and the dashboard web app; submits an SEC, an XBRL,
a Yahoo and a risk-drift job (NVIDIA, fiscal 2025 vs 2024); draws a progress bar per job from
its event stream; prints a summary of each result, then (without ``--once``) keeps serving
and prints what to try next. Nothing reaches the network.

SIGINT and SIGTERM stop it gracefully: the web server, then the worker, then the replay
server, then Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import shlex
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acquire.client import AcquireClient, JobHandle
from acquire.errors import JobFailedError
from acquire.models import JobStatus
from acquire.progress import describe_event, event_progress, progress_line
from acquire.results import JobResult
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis
from acquire.testing.replay import ReplayServer
from acquire.worker import create_worker

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import ASGIApp

__all__ = ["DEMO_JOBS", "demo_app", "recordings", "run_demo", "server_config"]

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


@contextlib.contextmanager
def recordings() -> Iterator[Path]:
    """The directory of recorded responses the demo replays (package data of this package)."""
    root = resources.files(__package__ or "acquire.testing").joinpath("recordings")
    with resources.as_file(root) as path:  # an installed wheel's files already are a directory
        yield Path(path)


@contextlib.asynccontextmanager
async def _environment(redis_url: str | None) -> AsyncIterator[Settings]:
    """Redis (``redis_url``, else the embedded one), the replay server; stopped in reverse order."""
    with contextlib.ExitStack() as stack:
        if not redis_url:
            redis_server = EmbeddedRedis(tempfile.mkdtemp(prefix="acquire-demo-")).start()
            stack.callback(redis_server.stop)  # last: the worker's shutdown still writes to it
            redis_url = redis_server.url
            print(f"acquire demo: REDIS_URL not set, using embedded Redis at {redis_url}")
        replay = ReplayServer(stack.enter_context(recordings())).start()
        stack.callback(replay.stop)
        yield Settings(
            redis_url=redis_url,
            sec_user_agent="acquire demo demo@example.com",
            **replay.settings_overrides(),
            metrics_port=0,
            logging_level="WARNING",
            acquire_data_dir=tempfile.mkdtemp(prefix="acquire-demo-data-"),
        )


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


async def _result_json(job: JobHandle[JobResult], status: JobStatus) -> dict[str, Any]:
    if not status.state.final:
        return {}
    try:
        return (await job.result()).model_dump(mode="json")
    except JobFailedError:
        return {}


async def _follow(
    client: AcquireClient, job: JobHandle[JobResult], kind: str, row: int, rows: int, tty: bool
) -> None:
    progress, label, last = 0, "queued", "0"
    async for event in job.events(after=last):
        last = event.id
        progress = event_progress(event, progress)
        label = describe_event(event)
        line = progress_line(kind, job.job_id, progress, label)[:100]
        if tty:
            up = rows - row
            sys.stdout.write(f"\x1b[{up}A\r\x1b[2K{line}\x1b[{up}B\r")
            sys.stdout.flush()
        elif event.event.terminal:
            print(line)


def next_steps(port: int, embedded_redis_url: str | None) -> list[str]:
    """What to try against the running demo: the dashboard, the CLI and the HTTP API."""
    base = f"http://127.0.0.1:{port}"
    # Only the embedded Redis's URL is printed; a REDIS_URL of the user's own may hold a password.
    env = f"REDIS_URL={shlex.quote(embedded_redis_url)} " if embedded_redis_url else ""
    body = json.dumps({"kind": "xbrl_facts", "companies": ["NVDA"], "years": [2025], "metrics": ["revenue"]})
    curl = (
        f"curl -s -X POST {base}/acquire/jobs -H 'X-API-Key: {DEMO_API_KEY}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )
    return [
        "try next (the demo keeps serving; Ctrl-C to stop):",
        f"  dashboard:   {base}/#key={DEMO_API_KEY}",
        f"  submit:      {env}acquire submit risk_drift --org {ORG} --ticker NVDA --years 2025 2024",
        f"  follow it:   {env}acquire watch JOB_ID --org {ORG}",
        f"  over HTTP:   {curl}",
    ]


async def run_demo(*, once: bool, port: int = 8765) -> int:
    """Run the demo; returns the exit code (0 when every job completed, 128 + signal when a
    signal stopped it before the jobs finished)."""
    stop = asyncio.Event()
    signals: list[int] = []

    def on_signal(sig: int) -> None:
        signals.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        redis_url = os.environ.get("REDIS_URL")
        async with _environment(redis_url) as settings, _serving(settings, port) as (client, port):
            jobs = asyncio.create_task(_run_jobs(client, port))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({jobs, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not jobs.done():
                jobs.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await jobs
                return 128 + signals[0]
            stopped.cancel()
            ok = jobs.result()
            if not once and not stop.is_set():
                print("\n".join(next_steps(port, None if redis_url else settings.redis_url)), flush=True)
                await stop.wait()
            return 0 if ok else 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _run_jobs(client: AcquireClient, port: int) -> bool:
    """Submit the demo's jobs, draw their progress, print their results; True if all completed."""
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
        print("\n".join(summarise(kind, status, await _result_json(job, status))))
    print(link, flush=True)
    return ok


def server_config(app: Any, port: int) -> Any:
    """The demo's ``uvicorn.Config``: loopback, with the limits on slow and idle clients."""
    import uvicorn

    from acquire.web.serving import uvicorn_limits

    return uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_limits())


def demo_app(router: ASGIApp) -> Starlette:
    """The demo's host app: the router at ``/acquire`` and the dashboard (if installed) at ``/``."""
    from starlette.applications import Starlette

    app = Starlette()
    # Starlette answers "/acquire" with a redirect to "/acquire/" built from the request's Host
    # header, which the client chooses: paths match exactly instead.
    app.router.redirect_slashes = False
    app.mount("/acquire", router)
    with contextlib.suppress(ImportError):
        dashboard = importlib.import_module("acquire.web.dashboard")
        app.mount("/", dashboard.create_dashboard("/acquire"))
    return app


@contextlib.asynccontextmanager
async def _serving(settings: Settings, port: int) -> AsyncIterator[tuple[AcquireClient, int]]:
    """A worker and the dashboard app on ``port`` (or a free one); stopped web server first."""
    import uvicorn

    from acquire.web import api_key_authorizer, create_router

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn would take SIGINT/SIGTERM and re-raise them once it stopped, killing the
            # process before the worker and Redis were stopped: the demo handles them itself.
            yield

    worker = create_worker(settings)
    worker_task = asyncio.create_task(worker.async_run())
    client = await AcquireClient.connect(settings)
    router = create_router(client, api_key_authorizer({DEMO_API_KEY: ORG}), token_secret=os.urandom(32))
    app = demo_app(router)
    port = _free_port(port)
    server = Server(server_config(app, port))
    server_task = asyncio.create_task(server.serve())
    try:
        yield client, port
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
