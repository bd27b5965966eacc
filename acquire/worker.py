"""``WorkerSettings`` for ``arq acquire.WorkerSettings``.

The class arq reads is built from :class:`~acquire.settings.Settings` when first accessed
(``acquire.WorkerSettings`` is resolved lazily), so importing acquire in a host application
reads no environment. Two variants follow the seed's ``task_routes``: ``WorkerSettings``
serves the acquisition queue and ``AnalysisWorkerSettings`` the analysis queue (risk drift);
with the default settings both queues are the same and one worker runs everything.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any, NamedTuple, cast

from arq import func
from arq.connections import ArqRedis, RedisSettings
from arq.cron import CronJob
from arq.typing import StartupShutdown, WorkerCoroutine
from arq.worker import Function, Worker

from acquire import metrics, serialization
from acquire.connection import worker_redis_settings
from acquire.logs import configure_logging
from acquire.runtime import arq_patches
from acquire.runtime.periodic import Periodic, fleet_lease, worker_token
from acquire.runtime.run import JobSpec, Services, make_tasks
from acquire.runtime.services import ResourceFactory
from acquire.settings import Settings, get_settings
from acquire.store import keys
from acquire.store.jobs import JobStore

__all__ = [
    "AcquireWorkerSettings",
    "ResourceFactory",
    "WorkerHooks",
    "build_worker_settings",
    "compose_hooks",
    "create_worker",
    "default_specs",
    "task_functions",
    "worker_hooks",
]

log = logging.getLogger("acquire.worker")

#: ``ctx`` key of the worker's background tasks by name (``"reconciler"``, ``"queue_depth"``),
#: each a :class:`~acquire.runtime.periodic.Periodic`.
PERIODIC_CTX = "acquire_periodic"


def default_specs() -> list[JobSpec[Any, Any]]:
    """The built-in job kinds (imported here so ``import acquire`` stays light)."""
    from acquire.jobs import registry

    return registry.specs()


def default_resources() -> list[ResourceFactory]:
    from acquire.jobs import registry

    return registry.resources()


def default_extra_functions(settings: Settings) -> list[Any]:
    from acquire.jobs import registry

    return registry.extra_functions(settings)


def _queue_depth(redis: ArqRedis, queue: str) -> Callable[[int], Awaitable[None]]:
    gauge = metrics.QUEUE_DEPTH.labels(queue)

    async def refresh(_: int) -> None:
        # One ZCARD per ACQUIRE_QUEUE_DEPTH_INTERVAL (15 s: Prometheus's usual scrape interval).
        with contextlib.suppress(Exception):  # metrics must never take the worker down
            gauge.set(await redis.zcard(queue))

    return refresh


def build_worker_settings(
    settings: Settings | None = None,
    *,
    analysis: bool = False,
    specs: Sequence[JobSpec[Any, Any]] | None = None,
    resources: Sequence[ResourceFactory] | None = None,
    extra_functions: Sequence[Any] | None = None,
    serve_metrics: bool = True,
    functions: Sequence[WorkerCoroutine | Function] = (),
    on_startup: StartupShutdown | None = None,
    on_shutdown: StartupShutdown | None = None,
) -> type[AcquireWorkerSettings]:
    """A ``WorkerSettings`` class for arq.

    ``specs``, ``resources`` and ``extra_functions`` default to acquire's built-in job kinds;
    tests and host applications may pass their own. A host's own arq ``functions`` run on the
    same worker, its ``on_startup`` after acquire's and its ``on_shutdown`` before acquire's
    (they receive the same ``ctx``; jobs are JSON, see :mod:`acquire.serialization`).
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
    tasks: list[WorkerCoroutine | Function] = [
        func(cast(Any, coroutine), name=name, timeout=hard, max_tries=arq_max_tries)
        for spec in here
        for name, coroutine, hard in make_tasks(spec, settings)
    ]
    if not analysis or queue == settings.acquire_queue:
        tasks += extras  # webhook delivery runs on the acquisition queue
    tasks += functions
    by_kind = {spec.kind: spec for spec in specs}

    # One pass per period for the whole fleet; its timeout stays at or below the jobs': arq
    # keeps every job's in-progress marker for the longest function timeout + 10 s, which is
    # how long a killed worker's jobs wait, and a pass must not outlast that.
    reconcile_timeout = float(min(60, settings.acquire_job_timeout))
    interval = settings.acquire_reconcile_interval

    def reconciler(services: Services) -> Periodic:
        token = worker_token()

        async def reconcile_once(period: int) -> dict[str, int] | None:
            # The lease is per period (the tick's number, the same on every worker): exactly
            # one winner however late a worker's tick is; it lapses after two periods. It is
            # fleet-wide, not per queue (as arq's unique cron id was): the pass covers every
            # queue's jobs and two at once could fail one job twice.
            lease = keys.reconcile_lease(period)
            if not await fleet_lease(services.redis, lease, token, ttl=2 * interval):
                return None  # another worker runs this period's pass
            return await reconcile_jobs(services, period)

        return Periodic("reconciler", interval, reconcile_once, timeout=reconcile_timeout, aligned=True)

    async def reconcile_jobs(services: Services, period: int) -> dict[str, int]:
        from acquire.runtime.reconcile import reconcile

        report = await reconcile(services, by_kind, older_than=settings.acquire_reconcile_after)
        # Backlogs whose next item was never let in (a release lost to a Redis outage).
        fed = await services.fair.feed_all(queue) if services.fair.enabled else 0
        summary = {
            "checked": report.checked,
            "failed": len(report.failed),
            "finished": len(report.finished),
            "fed": fed,
        }
        level = logging.INFO if report.failed or report.finished or fed else logging.DEBUG
        log.log(level, "reconcile pass %d on queue %s: %s", period, queue, summary)
        return summary

    async def startup(ctx: dict[str, Any]) -> None:
        configure_logging(settings.logging_level, json_lines=settings.acquire_log_json)
        redis: ArqRedis = ctx["redis"]
        store = JobStore.from_settings(redis, settings)
        services = Services(settings=settings, redis=redis, store=store)
        stack = AsyncExitStack()
        for factory in factories:
            await stack.enter_async_context(factory(services))
        ctx["acquire"] = services
        # setdefault: whoever builds the Worker may pass its own (ctx=...), e.g. to watch it.
        ctx.setdefault(arq_patches.WAKE_CTX, arq_patches.WakeUp.for_queue(queue, settings.acquire_idle_poll))
        ctx["acquire_stack"] = stack
        background = {
            "queue_depth": Periodic(
                "queue depth", settings.acquire_queue_depth_interval, _queue_depth(redis, queue)
            ),
            "reconciler": reconciler(services),
        }
        for task in background.values():
            task.start()
        ctx[PERIODIC_CTX] = background
        if serve_metrics:
            _serve_metrics_once(settings.metrics_port, settings.metrics_host)
        log.info("acquire worker ready on queue %s (%d functions)", queue, len(tasks))

    async def shutdown(ctx: dict[str, Any]) -> None:
        services: Services | None = ctx.get("acquire")
        if services is not None:
            services.watchdog.close()
        background: dict[str, Periodic] = ctx.pop(PERIODIC_CTX, {})
        for task in background.values():
            await task.stop()
        stack: AsyncExitStack | None = ctx.pop("acquire_stack", None)
        if stack is not None:
            await stack.aclose()

    attributes: dict[str, Any] = {
        "functions": tasks,
        # Empty: the reconciler is a task of on_startup (above), not an arq cron job; the field
        # stays for hosts that spread ``hooks.cron_jobs`` into their own (see WorkerHooks).
        "cron_jobs": [],
        "queue_name": queue,
        "redis_settings": worker_redis_settings(settings),
        "on_startup": compose_hooks(startup, on_startup),
        "on_shutdown": compose_hooks(on_shutdown, shutdown),
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
    return cast(type[AcquireWorkerSettings], type(name, (AcquireWorkerSettings,), attributes))


def task_functions(
    settings: Settings | None = None, *, analysis: bool = False
) -> list[WorkerCoroutine | Function]:
    """acquire's arq functions (every job kind of the queue, its item jobs, webhook delivery),
    for a host application's own arq worker::

        hooks = acquire.worker_hooks(settings)

        class WorkerSettings:
            functions = [*my_functions, *acquire.task_functions(settings)]
            cron_jobs = my_cron_jobs       # acquire has none (hooks.cron_jobs is empty)
            on_startup = acquire.compose_hooks(my_startup, hooks.on_startup)
            on_shutdown = acquire.compose_hooks(hooks.on_shutdown, my_shutdown)
            queue_name = settings.acquire_queue
            job_serializer = acquire.serialization.serialize      # acquire's jobs are JSON
            job_deserializer = acquire.serialization.deserialize

    The functions need :func:`worker_hooks`' ``on_startup`` to have run in the same worker.
    """
    return list(build_worker_settings(settings, analysis=analysis, serve_metrics=False).functions)


class WorkerHooks(NamedTuple):
    """What a host's arq worker runs besides :func:`task_functions`: acquire's startup (opens
    its clients and starts its background tasks: the reconciler that finishes abandoned jobs,
    the queue-depth gauge) and its shutdown (stops them, closes the clients).

    ``cron_jobs`` is always empty since the reconciler left arq's cron (it cost ~30 Redis
    commands a pass); it stays so that hosts spreading it into their own list keep working.
    """

    on_startup: StartupShutdown
    on_shutdown: StartupShutdown
    cron_jobs: list[CronJob]


def worker_hooks(
    settings: Settings | None = None, *, analysis: bool = False, serve_metrics: bool = True
) -> WorkerHooks:
    """acquire's ``on_startup`` and ``on_shutdown`` (and an empty ``cron_jobs``), for a host's
    own arq worker."""
    built = vars(build_worker_settings(settings, analysis=analysis, serve_metrics=serve_metrics))
    return WorkerHooks(built["on_startup"], built["on_shutdown"], list(built["cron_jobs"]))


def compose_hooks(*hooks: StartupShutdown | None) -> StartupShutdown:
    """One arq ``on_startup``/``on_shutdown`` running ``hooks`` in order (``None`` skipped)."""
    chain = [hook for hook in hooks if hook is not None]

    async def composed(ctx: dict[Any, Any]) -> None:
        for hook in chain:
            await hook(ctx)

    return composed


class AcquireWorkerSettings:
    """The type of ``acquire.WorkerSettings`` (and of :func:`build_worker_settings`' classes):
    the arq worker options acquire sets, as class attributes. It satisfies arq's own
    ``WorkerSettingsBase``, so ``arq.run_worker(acquire.WorkerSettings)`` type-checks (the
    attributes arq declares keep arq's types)."""

    functions: Sequence[WorkerCoroutine | Function]
    cron_jobs: Sequence[CronJob] | None
    on_startup: StartupShutdown | None
    on_shutdown: StartupShutdown | None
    queue_name: str
    redis_settings: RedisSettings
    max_jobs: int
    job_timeout: float
    keep_result: float
    poll_delay: float
    max_tries: int
    job_serializer: Callable[[Any], bytes]
    job_deserializer: Callable[[bytes], Any]
    health_check_interval: int
    job_completion_wait: float


def create_worker(
    settings: Settings | None = None,
    *,
    analysis: bool = False,
    specs: Sequence[JobSpec[Any, Any]] | None = None,
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
