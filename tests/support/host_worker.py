"""A host application's arq worker with acquire's task functions in it, and acquire's worker with
the host's function on it: each runs as a real ``arq`` process in tests/core/test_embedding.py.

Settings come from the environment, as in a host's own worker module.
"""

from __future__ import annotations

import os
from typing import Any

import acquire
from acquire import serialization
from acquire.connection import redis_settings
from acquire.settings import Settings

settings = Settings.from_env()


async def host_startup(ctx: dict[str, Any]) -> None:
    ctx["host_greeting"] = "hello from the host"


async def host_shutdown(ctx: dict[str, Any]) -> None:
    closed = "acquire closed" if "acquire_stack" not in ctx else "acquire still open"
    await ctx["redis"].set(f"host:{os.environ['HOST_RUN']}:shutdown", closed)


async def host_echo(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """The host's own job: it sees its startup's greeting and acquire's services in ``ctx``."""
    seen = f"{ctx['host_greeting']}, acquire {'ready' if 'acquire' in ctx else 'missing'}"
    await ctx["redis"].set(f"host:{payload['run']}:echo", seen)
    return seen


hooks = acquire.worker_hooks(settings, serve_metrics=False)


class HostWorkerSettings:
    """The host's ``WorkerSettings``, with acquire embedded (the README's recipe)."""

    functions = [host_echo, *acquire.task_functions(settings)]
    cron_jobs = [*hooks.cron_jobs]
    on_startup = acquire.compose_hooks(host_startup, hooks.on_startup)
    on_shutdown = acquire.compose_hooks(hooks.on_shutdown, host_shutdown)
    queue_name = settings.acquire_queue
    redis_settings = redis_settings(settings)
    job_serializer = serialization.serialize
    job_deserializer = serialization.deserialize


#: The reverse: acquire's worker, with the host's function and hooks on it.
AcquireWithHost = acquire.build_worker_settings(
    settings, functions=[host_echo], on_startup=host_startup, on_shutdown=host_shutdown, serve_metrics=False
)
