"""``WorkerSettings`` for ``arq acquire.WorkerSettings``.

The class arq reads is built from :class:`~acquire.settings.Settings` when first accessed
(``acquire.WorkerSettings`` is resolved lazily), so importing acquire in a host application
reads no environment. Two variants follow the seed's ``task_routes``: ``WorkerSettings``
serves the acquisition queue and ``AnalysisWorkerSettings`` the analysis queue (risk drift);
with the default settings both queues are the same and one worker runs everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any, cast

from arq import cron, func
from arq.connections import ArqRedis
from arq.worker import Worker

from acquire import metrics, serialization
from acquire.connection import redis_settings
from acquire.logs import configure_logging
from acquire.runtime import arq_patches
from acquire.runtime.run import JobSpec, Services, make_tasks
from acquire.runtime.services import ResourceFactory
from acquire.settings import Settings, get_settings
from acquire.store.jobs import JobStore

__all__ = ["ResourceFactory", "build_worker_settings", "create_worker", "default_specs"]

log = logging.getLogger("acquire.worker")

_QUEUE_DEPTH_INTERVAL = 5.0


def default_specs() -> list[JobSpec]:
    """The built-in job kinds (imported here so ``import acquire`` stays light)."""
    from acquire.jobs import registry

    return registry.specs()


def default_resources() -> list[ResourceFactory]:
    from acquire.jobs import registry

    return registry.resources()


def default_extra_functions(settings: Settings) -> list[Any]:
    from acquire.jobs import registry

    return registry.extra_functions(settings)


async def _report_queue_depth(redis: ArqRedis, queue: str) -> None:
    gauge = metrics.QUEUE_DEPTH.labels(queue)
    while True:
        with contextlib.suppress(Exception):  # metrics must never take the worker down
            gauge.set(await redis.zcard(queue))
        await asyncio.sleep(_QUEUE_DEPTH_INTERVAL)


def build_worker_settings(
    settings: Settings | None = None,
    *,
    analysis: bool = False,
    specs: Sequence[JobSpec] | None = None,
    resources: Sequence[ResourceFactory] | None = None,
    extra_functions: Sequence[Any] | None = None,
    serve_metrics: bool = True,
) -> type:
    """A ``WorkerSettings`` class for arq.

    ``specs``, ``resources`` and ``extra_functions`` default to acquire's built-in job kinds;
    tests and host applications may pass their own.
    """
    settings = settings or get_settings()
    arq_patches.install()
    specs = default_specs() if specs is None else list(specs)
    factories = default_resources() if resources is None else list(resources)
    extras = default_extra_functions(settings) if extra_functions is None else list(extra_functions)
    queue = settings.acquire_analysis_queue if analysis else settings.acquire_queue
    # arq must not give up before the runtime does, or a job would end without a final status.
    arq_max_tries = settings.acquire_max_tries + 3
    # Only the kinds routed to this queue: arq keeps every job's in-progress marker for the
    # longest timeout it knows + 10 s, which is how long a killed worker's jobs wait for
    # another worker, so fetch workers must not inherit risk drift's 600 s.
    here = [spec for spec in specs if spec.queue(settings) == queue]
    functions = [
        func(cast(Any, coroutine), name=name, timeout=hard, max_tries=arq_max_tries)
        for spec in here
        for name, coroutine, hard in make_tasks(spec, settings)
    ]
    if not analysis or queue == settings.acquire_queue:
        functions += extras  # webhook delivery runs on the acquisition queue
    by_kind = {spec.kind: spec for spec in specs}

    async def reconcile_jobs(ctx: dict[str, Any]) -> dict[str, int]:
        from acquire.runtime.reconcile import reconcile

        services: Services = ctx["acquire"]
        report = await reconcile(services, by_kind, older_than=settings.acquire_reconcile_after)
        # Backlogs whose next item was never let in (a release lost to a Redis outage).
        fed = await services.fair.feed_all(queue) if services.fair.enabled else 0
        return {
            "checked": report.checked,
            "failed": len(report.failed),
            "finished": len(report.finished),
            "fed": fed,
        }

    async def on_startup(ctx: dict[str, Any]) -> None:
        configure_logging(settings.logging_level, json_lines=settings.acquire_log_json)
        redis: ArqRedis = ctx["redis"]
        store = JobStore.from_settings(redis, settings)
        services = Services(settings=settings, redis=redis, store=store)
        stack = AsyncExitStack()
        for factory in factories:
            await stack.enter_async_context(factory(services))
        ctx["acquire"] = services
        ctx["acquire_stack"] = stack
        ctx["acquire_depth_task"] = asyncio.create_task(_report_queue_depth(redis, queue))
        if serve_metrics:
            _serve_metrics_once(settings.metrics_port, settings.metrics_host)
        log.info("acquire worker ready on queue %s (%d functions)", queue, len(functions))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        services: Services | None = ctx.get("acquire")
        if services is not None:
            services.watchdog.close()
        task = ctx.pop("acquire_depth_task", None)
        if task is not None:
            task.cancel()
        stack: AsyncExitStack | None = ctx.pop("acquire_stack", None)
        if stack is not None:
            await stack.aclose()

    attributes: dict[str, Any] = {
        "functions": functions,
        # Every 30 s one worker of the fleet (arq's unique cron) finishes jobs arq ended alone.
        # Its timeout stays at or below the jobs': arq keeps every job's in-progress marker for
        # the longest function timeout + 10 s, which is how long a killed worker's jobs wait.
        "cron_jobs": [
            cron(
                reconcile_jobs,
                name="acquire_reconcile",
                second={0, 30},
                timeout=min(60, settings.acquire_job_timeout),
            )
        ],
        "queue_name": queue,
        "redis_settings": redis_settings(settings),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_jobs": settings.worker_concurrency,
        "job_timeout": settings.acquire_job_timeout,
        "keep_result": settings.acquire_result_ttl,
        "poll_delay": settings.acquire_poll_delay,
        "max_tries": arq_max_tries,
        "job_serializer": serialization.serialize,
        "job_deserializer": serialization.deserialize,
        "health_check_interval": 30,
        # On SIGTERM stop taking jobs and let running ones finish; any still running after the
        # grace period are cancelled and re-queued by arq (their status says "retrying").
        "job_completion_wait": settings.acquire_shutdown_grace,
    }
    name = "AnalysisWorkerSettings" if analysis else "WorkerSettings"
    return type(name, (), attributes)


def create_worker(
    settings: Settings | None = None,
    *,
    analysis: bool = False,
    specs: Sequence[JobSpec] | None = None,
    resources: Sequence[ResourceFactory] | None = None,
    extra_functions: Sequence[Any] | None = None,
    serve_metrics: bool = False,
    burst: bool = False,
    handle_signals: bool = False,
    **overrides: Any,
) -> Worker:
    """An arq ``Worker`` for this process's event loop, from :func:`build_worker_settings`.

    For code that runs a worker itself (the demo, tests, benchmarks, a host application's own
    loop) rather than through ``arq acquire.WorkerSettings``. ``burst`` stops it once the queue
    is empty; ``overrides`` go to arq's ``Worker`` as they are (e.g. ``redis_pool``).
    """
    cls = build_worker_settings(
        settings,
        analysis=analysis,
        specs=specs,
        resources=resources,
        extra_functions=extra_functions,
        serve_metrics=serve_metrics,
    )
    kwargs = {name: value for name, value in vars(cls).items() if not name.startswith("__")}
    return Worker(**{**kwargs, "burst": burst, "handle_signals": handle_signals, **overrides})


_metrics_started: set[int] = set()


def _serve_metrics_once(port: int, host: str) -> None:
    if port and port not in _metrics_started:
        try:
            metrics.serve(port, host)
            _metrics_started.add(port)
        except OSError as exc:
            log.warning("metrics address %s:%d unavailable: %s", host, port, exc)
