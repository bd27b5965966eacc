"""The job runtime: what every acquire job does around its own work.

A job kind is a :class:`JobSpec`: a ``run`` coroutine (the kind's own steps) and, for kinds
whose work spreads across the fleet, a ``run_item`` coroutine executed as one arq job per
item. The runtime turns a spec into arq task functions that

- validate the payload again (a job written to Redis by hand gets the same checks),
- keep the status record and the event stream up to date (``job_started``, ``step_complete``,
  ``item_completed``/``item_failed``, ``job_retrying``, ``job_completed``/``job_failed``),
- retry :class:`~acquire.errors.TransientError` with exponential backoff and jitter, and fail
  everything else at once, always leaving a final status,
- enforce a soft time limit below arq's hard one, so a slow job ends with a clear reason,
- isolate faults: a failing item is recorded on that item and the job ends
  ``partially_failed`` with the good results kept,
- count Prometheus metrics and enqueue the completion webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

from arq.worker import Retry
from pydantic import ValidationError

from acquire import metrics
from acquire.errors import NotFoundError, TransientError
from acquire.http.backoff import equal_jitter
from acquire.logs import job_context
from acquire.models import EventType, ItemState, JobRequest, JobState, parse_request
from acquire.runtime import arq_patches
from acquire.runtime.arq_patches import Completion
from acquire.runtime.context import JobContext, Skip, describe_error, now_utc
from acquire.runtime.services import Envelope, Outcome, Services, Spread
from acquire.runtime.spec import JobSpec
from acquire.settings import Settings
from acquire.store.jobs import StoredResult
from acquire.store.transition import Transition
from acquire.store.wake import wake_workers

__all__ = [
    "Envelope",
    "JobContext",
    "JobSpec",
    "Outcome",
    "Services",
    "Spread",
    "finish_spread_if_done",
    "make_tasks",
    "write_failed_status",
]

log = logging.getLogger("acquire.jobs")

WEBHOOK_FUNCTION = "deliver_webhook"


def _backoff(attempt: int, settings: Settings) -> float:
    return equal_jitter(attempt, base=settings.acquire_retry_base, cap=settings.acquire_retry_max)


Task = Callable[..., Awaitable[Any]]


def make_tasks(spec: JobSpec[Any, Any], settings: Settings) -> list[tuple[str, Task, float]]:
    """arq task functions for ``spec``: ``(name, coroutine, hard timeout)`` tuples."""
    soft, hard = spec.timeouts(settings)
    tasks: list[tuple[str, Task, float]] = [
        (spec.kind.value, partial(_rerun_if_redis_away, partial(_run_job, spec, soft)), hard)
    ]
    if spec.run_item is not None:
        run_item = partial(_rerun_if_redis_away, partial(_run_item, spec, soft))
        tasks.append((f"{spec.kind.value}_item", run_item, hard))
    return tasks


async def _rerun_if_redis_away(run: Task, ctx: dict[str, Any], payload: Any) -> Any:
    """Run the attempt; if Redis stayed away longer than a command's retries, run it again.

    Nothing can be written while Redis is away, so the attempt records nothing: arq re-queues
    the job once Redis is back (its patched ``finish_job`` waits for that) and the next attempt
    carries on from what the store kept (steps, items and the final state are written once).
    """
    try:
        return await run(ctx, payload)
    except arq_patches.REDIS_UNAVAILABLE as exc:
        attempt = int(ctx.get("job_try", 1))
        settings: Settings = ctx["acquire"].settings
        log.warning("job %s lost Redis (%s); it will run again", ctx.get("job_id"), type(exc).__name__)
        raise Retry(defer=_backoff(attempt, settings)) from exc


async def _open(ctx: dict[str, Any], payload: Any) -> tuple[Services, Envelope, JobRequest] | None:
    services: Services = ctx["acquire"]
    try:
        envelope = Envelope.model_validate(payload)
    except ValidationError as exc:
        log.error("rejected job %s: malformed envelope: %s", ctx.get("job_id"), exc.errors()[0]["msg"])
        return None
    job_context.set({"job_id": envelope.job_id, "org": envelope.org})
    try:
        if envelope.item is None:
            request = parse_request(envelope.request)
        else:
            request = services.validated(envelope.job_id, envelope.request)
    except ValidationError as exc:
        await _write_final_status(services, envelope, JobState.FAILED, error=("ValidationError", str(exc)))
        return None
    return services, envelope, request


async def _run_job(spec: JobSpec[Any, Any], soft: float, ctx: dict[str, Any], payload: Any) -> dict[str, Any]:
    opened = await _open(ctx, payload)
    if opened is None:
        return {"state": "rejected"}
    services, envelope, request = opened
    attempt = int(ctx.get("job_try", 1))
    arq_id: str | None = ctx.get("job_id")
    started_at = now_utc()
    running: dict[str, Any] = {"state": JobState.RUNNING, "started_at": started_at, "attempts": attempt}
    if attempt > 1:
        running["error"] = running["error_type"] = ""  # the failed attempt's, if it was retried
    start = Transition(running, EventType.JOB_STARTED, {"attempt": attempt}, at=started_at)
    job = JobContext(services, envelope, attempt, spec.queue(services.settings), start)
    live, kind_metrics = metrics.RUNNING, metrics.for_kind(spec.kind.value)
    live.count += 1
    started = time.perf_counter()
    try:
        job.watch(soft)  # the worker's watchdog: deferred start write and soft time limit
        try:
            outcome = await spec.run(job, request)
        finally:
            job.unwatch()
    except Skip as skip:
        log.info("skipping job %s: %s", envelope.job_id, skip)
        return {"state": "skipped"}
    except TransientError as exc:
        return await _retry_or_fail(job, spec, exc, arq_id)
    except asyncio.CancelledError:
        if job.soft_limit_hit():
            return await _fail_run(job, _soft_limit(soft), arq_id)
        # Worker shutdown (arq re-queues the job) or the hard limit: report, then let arq act.
        await asyncio.shield(_cancelled(job))
        raise
    except arq_patches.REDIS_UNAVAILABLE:
        raise  # not the job's failure: see _rerun_if_redis_away
    except Exception as exc:
        return await _fail_run(job, exc, arq_id)
    finally:
        live.count -= 1
        kind_metrics.observe(time.perf_counter() - started)
    if isinstance(outcome, Spread):
        return {"state": "spread"}
    state = _final_state(job.counts.done, job.counts.failed, job.counts.total)
    pre = await job.pending_start()
    await _write_final_status(
        services,
        envelope,
        state,
        summary=outcome.summary,
        result=outcome.result,
        pre=pre,
        arq_job_id=arq_id,
    )
    return {"state": state.value}


async def _run_item(
    spec: JobSpec[Any, Any], soft: float, ctx: dict[str, Any], payload: Any
) -> dict[str, Any]:
    opened = await _open(ctx, payload)
    if opened is None or spec.run_item is None:
        return {"state": "rejected"}
    services, envelope, request = opened
    key, attempt = envelope.item or "", int(ctx.get("job_try", 1))
    state = await services.store.job_state(envelope.org, envelope.job_id)
    if state is None or state.final:
        # A leftover of a job that ended (it failed, or a reconciler finished it) or expired:
        # fetching upstream would only produce an item the store refuses.
        log.info("skipping item %s of job %s: the job is %s", key, envelope.job_id, state or "gone")
        await _release(services, envelope.org, spec.queue(services.settings), ctx)
        return {"state": "skipped"}
    job = JobContext(services, envelope, attempt, spec.queue(services.settings))
    metrics.RUNNING.count += 1  # an item job is a job this worker runs, too
    try:
        job.watch(soft)  # the soft limit (an item job has no deferred start to write)
        try:
            data = await spec.run_item(job, request, key, envelope.item_payload or {})
        finally:
            job.unwatch()
        await job.item(key, ItemState.COMPLETED, data=data)
    except NotFoundError as exc:
        await job.item(key, ItemState.NOT_FOUND, error=exc)
    except TransientError as exc:
        if attempt < services.settings.acquire_max_tries:
            metrics.for_kind(spec.kind.value).retries += 1
            raise Retry(defer=exc.retry_after or _backoff(attempt, services.settings)) from exc
        await job.item(key, ItemState.FAILED, error=exc)
    except asyncio.CancelledError:
        if not job.soft_limit_hit():
            raise
        await job.item(key, ItemState.FAILED, error=_soft_limit(soft))
    except arq_patches.REDIS_UNAVAILABLE:
        raise  # not the item's failure: see _rerun_if_redis_away
    except Exception as exc:
        await job.item(key, ItemState.FAILED, error=exc)
    finally:
        metrics.RUNNING.count -= 1
    await finish_spread_if_done(services, envelope, spec, request)
    await _release(services, envelope.org, job.queue, ctx)
    return {"item": key}


async def _release(services: Services, org: str, queue: str, ctx: dict[str, Any]) -> None:
    """The item job ends: the org's next backlogged item enters the queue (store.fairness)."""
    arq_id = ctx.get("job_id")
    if services.fair.enabled and arq_id and await services.fair.release(org, queue, arq_id):
        await wake_workers(services.redis, queue)  # the org's next item is on the queue


async def finish_spread_if_done(
    services: Services, envelope: Envelope, spec: JobSpec[Any, Any], request: JobRequest
) -> bool:
    """Finish a spread job once every item is final (whichever item job gets there first)."""
    status = await services.store.get_status(envelope.org, envelope.job_id)
    if status.state.final or not status.items_total:
        return status.state.final
    if status.items_done + status.items_failed < status.items_total:
        return False
    items = await services.store.get_items(envelope.org, envelope.job_id)
    outcome = spec.assemble(request, items)
    state = _final_state(status.items_done, status.items_failed, status.items_total)
    await _write_final_status(services, envelope, state, summary=outcome.summary, result=outcome.result)
    return True


async def write_failed_status(services: Services, envelope: Envelope, error_type: str, message: str) -> None:
    """Give a job a final ``failed`` status from outside its own run (the reconciler)."""
    await _write_final_status(services, envelope, JobState.FAILED, error=(error_type, message))


def _soft_limit(soft: float) -> TimeoutError:
    return TimeoutError(f"exceeded the soft time limit of {soft:g} s")


def _final_state(done: int, failed: int, total: int) -> JobState:
    if failed and not done:
        return JobState.FAILED
    if failed:
        return JobState.PARTIALLY_FAILED
    return JobState.COMPLETED


async def _retry_or_fail(
    job: JobContext, spec: JobSpec[Any, Any], exc: TransientError, arq_id: str | None
) -> dict[str, Any]:
    settings = job.settings
    if job.attempt >= settings.acquire_max_tries:
        return await _fail_run(job, exc, arq_id)
    delay = exc.retry_after if exc.retry_after is not None else _backoff(job.attempt, settings)
    error_type, message = describe_error(exc)
    if job.services.redact.active:
        log.info("job %s attempt %d: %s: %s", job.job_id, job.attempt, error_type, message)
        message = job.services.redact.text(message)
    retrying = Transition(
        {"state": JobState.RETRYING, "error": message, "error_type": error_type},
        EventType.JOB_RETRYING,
        {"attempt": job.attempt, "retry_in": round(delay, 3), "error": message},
        dedupe=f"retry:{job.attempt}",
    )
    await job.store.apply_transitions(job.org, job.job_id, [*await job.pending_start(), retrying])
    metrics.for_kind(spec.kind.value).retries += 1
    raise Retry(defer=delay) from exc


async def _cancelled(job: JobContext) -> None:
    retrying = Transition(
        {"state": JobState.RETRYING},
        EventType.JOB_RETRYING,
        {"attempt": job.attempt, "error": "worker stopped during the job; it will run again"},
        dedupe=f"cancel:{job.attempt}",
    )
    with contextlib.suppress(Skip):
        await job.store.apply_transitions(job.org, job.job_id, [*await job.pending_start(), retrying])


async def _fail_run(job: JobContext, exc: BaseException, arq_id: str | None) -> dict[str, Any]:
    error = describe_error(exc)
    log.warning("job %s failed: %s: %s", job.job_id, *error)
    try:
        pre = await job.pending_start()
    except Skip:
        return {"state": "skipped"}
    await _write_final_status(
        job.services, job.envelope, JobState.FAILED, error=error, pre=pre, arq_job_id=arq_id
    )
    return {"state": JobState.FAILED.value, "error_type": error[0], "error": error[1]}


async def _write_final_status(
    services: Services,
    envelope: Envelope,
    state: JobState,
    *,
    summary: Mapping[str, Any] | None = None,
    error: tuple[str, str] | None = None,
    result: StoredResult | None = None,
    pre: Sequence[Transition] = (),
    arq_job_id: str | None = None,
) -> None:
    """Move the job to its final state, once; count it; enqueue its webhook.

    With ``arq_job_id`` (the job's own run, about to return to arq) the write is committed
    by the script that also completes the job for arq (:mod:`acquire.runtime.arq_patches`),
    when the worker allows.
    """
    redact = services.redact
    finished_at, summary = now_utc(), redact.tree(dict(summary or {}))
    if error is not None:
        error = redact.error(error)
    if result is not None and redact.active:
        # A result model comes back as its JSON (a mapping) only when something was replaced.
        result = redact.tree(result)
    fields: dict[str, Any] = {"state": state, "finished_at": finished_at, "summary": summary}
    data: dict[str, Any] = {"state": state.value, "summary": summary}
    if state != JobState.FAILED:
        fields["progress"] = 100
    if error is not None:
        fields["error_type"], fields["error"] = error
        data["error_type"], data["error"] = error
    event = EventType.JOB_FAILED if state == JobState.FAILED else EventType.JOB_COMPLETED
    steps = [*pre, Transition(fields, event, data, at=finished_at)]

    async def after(applied: int) -> None:
        if applied == 1:
            await _after_final_status(services, envelope, state)

    if arq_job_id is not None and arq_patches.installed():
        final = Completion(services.store, envelope.org, envelope.job_id, steps, result, after)
        arq_patches.defer(arq_job_id, final)
        return
    await after(await services.store.apply_transitions(envelope.org, envelope.job_id, steps, result=result))


async def _after_final_status(services: Services, envelope: Envelope, state: JobState) -> None:
    """What follows a job's final status: its metrics and its completion webhook."""
    source = envelope.kind.value
    kind_metrics = metrics.for_kind(source)
    kind_metrics.total += 1
    if state != JobState.COMPLETED:
        kind_metrics.failures += 1
    if envelope.request.get("callback_url"):
        # A fixed arq job id makes the webhook single even if two item jobs finish together.
        await services.redis.enqueue_job(
            WEBHOOK_FUNCTION,
            {"job_id": envelope.job_id, "org": envelope.org},
            _job_id=f"{envelope.job_id}:webhook",
            _queue_name=services.settings.acquire_queue,
        )
        await wake_workers(services.redis, services.settings.acquire_queue)
