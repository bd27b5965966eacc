"""acquire's patches of arq's ``Worker``, installed together by :func:`install`.

arq has no hooks for any of them, so each wraps one method once per worker process; every job
that does not need the new behaviour, and any other arq worker in the process, runs arq's code.

``Worker.finish_job``: a job's end and arq's completion of it in one Redis script.
    When a job's code returns, arq stores its result and takes the job off the queue in one
    MULTI/EXEC. For a job that registered its final write (final status, the last events, the
    result, see :func:`defer`), one Lua script does both, arq's commands first, then the store's
    transition (:meth:`acquire.store.jobs.JobStore.apply_transitions_with_prelude`): one command
    per finished job, and no window between the two writes, so a worker that dies leaves the
    job either finished for both or for neither (and then it simply runs again).
    ``tests/runtime/test_arq_patches.py`` compares the keys both paths leave in Redis, so an arq
    upgrade that changes its bookkeeping fails a test.

``Worker.start_jobs``: a connection lost while arq picks up a job does not stop the worker.
    arq 0.28 takes a concurrency slot, then WATCHes the job's in-progress key and reads it.
    When the connection dies after the WATCH, redis-py cannot retry (the watch is gone) and
    raises ``WatchError``, which arq only catches around EXEC: it would escape the poll loop,
    end the worker process and never give the slot back. The patch releases the slot and
    leaves the rest of the batch for the next poll. Upstream fix: catch
    ``WatchError``/``ConnectionError`` over the whole WATCH block in ``start_jobs``.

``Worker.run_job``: whatever else goes wrong with one queue entry, the worker's loop goes on.
    arq re-raises a ``run_job`` exception in its poll loop, which ends the worker process; it
    reads a job's fields outside its own error handling (``et`` becomes a datetime, ``t`` is
    compared), so one malformed entry ended every worker that picked it up in turn. The JSON
    deserializer refuses such entries (:mod:`acquire.serialization`); this patch logs anything
    else instead of stopping, and leaves the job where arq left it (arq runs it again once its
    in-progress marker expires, and fails it after ``max_tries``).

``Worker._poll_iteration``, ``run_job``, ``finish_job``, ``finish_failed_job``: a Redis outage
of any length does not stop the worker.
    Every command retries on a fresh connection for a while (:mod:`acquire.connection`); an
    outage longer than that makes arq's own commands raise ``ConnectionError``, and arq lets
    it out of the poll loop (directly, or through ``t.result()`` of a job task whose start
    pipeline or final MULTI failed), which ends the worker process. The patches wait for Redis
    instead (log, ping with backoff, log again) and then carry on where they were: the poll
    loop polls again; a job whose start pipeline failed starts again (its code had not run);
    a job's finish is written again (each of arq's finishing commands, and the store's final
    transition, is idempotent). The worker keeps its slots: they are released only when the
    job really ends. Upstream fix: a retry around each of arq's Redis round trips.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.utils import to_ms
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acquire.store.jobs import JobStore, StoredResult
from acquire.store.transition import Transition

__all__ = ["REDIS_UNAVAILABLE", "Completion", "defer", "install", "installed", "wait_for_redis"]

log = logging.getLogger("acquire.jobs")

#: What redis-py raises once its own reconnection attempts are used up.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)
# arq's own loop also waits out a bare OSError (a connect to a socket file that is gone).
_AWAY: tuple[type[Exception], ...] = (*REDIS_UNAVAILABLE, OSError)
_WAIT_FIRST, _WAIT_MAX = 0.2, 5.0  # seconds between pings while Redis is away


@dataclass
class Completion:
    """The final write of one job and what to do once it is known to have applied."""

    store: JobStore
    org: str
    job_id: str
    steps: Sequence[Transition]
    result: StoredResult | None
    #: Called with the store's answer (1 applied, 0 already final, -1 expired).
    after: Callable[[int], Awaitable[None]]

    async def commit_alone(self) -> None:
        """Write it in a round trip of its own; logs instead of raising (arq's loop must live)."""
        try:
            applied = await self.store.apply_transitions(
                self.org, self.job_id, self.steps, result=self.result
            )
            await self.after(applied)
        except Exception:
            log.exception("final status of job %s not written", self.job_id)


# Keyed by arq job id; an id runs at most once at a time in a process (arq's in-progress key).
_pending: dict[str, Completion] = {}
_original_finish_job = Worker.finish_job


_original_start_jobs = Worker.start_jobs
_original_poll_iteration = Worker._poll_iteration
_original_run_job = Worker.run_job
_original_finish_failed_job = Worker.finish_failed_job


def installed() -> bool:
    """Whether arq's ``finish_job`` commits registered completions in this process."""
    return Worker.finish_job is _finish_job


def install() -> None:
    """Patch arq's ``Worker`` methods listed in the module docstring (idempotent)."""
    Worker.finish_job = _finish_job  # type: ignore[method-assign,assignment]
    Worker.start_jobs = _start_jobs  # type: ignore[method-assign]
    Worker._poll_iteration = _poll_iteration  # type: ignore[method-assign]
    Worker.run_job = _run_job  # type: ignore[method-assign]
    Worker.finish_failed_job = _finish_failed_job  # type: ignore[method-assign]


async def wait_for_redis(redis: Any, doing: str, exc: BaseException) -> None:
    """Return once ``redis`` answers a PING again; logs when Redis goes away and comes back."""
    log.warning("Redis unavailable while %s (%s: %s); waiting for it", doing, type(exc).__name__, exc)
    started, delay = time.monotonic(), _WAIT_FIRST
    while True:
        try:
            await redis.ping()
            break
        except _AWAY:
            await asyncio.sleep(delay)
            delay = min(_WAIT_MAX, delay * 2)
    log.warning("Redis is back after %.1f s; %s again", time.monotonic() - started, doing)


def defer(arq_job_id: str, completion: Completion) -> None:
    """Have arq's completion of ``arq_job_id`` carry ``completion`` (see :func:`installed`)."""
    _pending[arq_job_id] = completion


# arq's ``Worker.finish_job`` (the same in 0.26 to 0.28) for a job that finished (``finish``,
# no ``keep_in_progress``), command for command, run before the job's final transition.
# KEYS[6..11]: result, abort set, queue, in-progress, retry, job | ARGV[3]: arq job id,
# ARGV[4]: serialised result ('' for none), ARGV[5]: result lifetime in ms ('' for forever).
_ARQ_FINISH = """
if ARGV[4] ~= '' then
  if ARGV[5] == '' then redis.call('SET', KEYS[6], ARGV[4])
  else redis.call('SET', KEYS[6], ARGV[4], 'PX', ARGV[5]) end
end
redis.call('ZREM', KEYS[7], ARGV[3])
redis.call('ZREM', KEYS[8], ARGV[3])
redis.call('DEL', KEYS[9], KEYS[10], KEYS[11])
"""


async def _finish_job(self: Worker, job_id: str, *args: Any) -> None:
    # args: arq's finish, result_data, result_timeout_s, keep_result_forever, incr_score,
    # keep_in_progress (see _finish_once).
    completion = _pending.pop(job_id, None)
    while True:
        try:
            return await _finish_once(self, completion, job_id, *args)
        except _AWAY as exc:
            await wait_for_redis(self.pool, f"finishing job {job_id}", exc)


async def _finish_failed_job(self: Worker, job_id: str, result_data: bytes | None) -> None:
    while True:
        try:
            return await _original_finish_failed_job(self, job_id, result_data)
        except _AWAY as exc:
            await wait_for_redis(self.pool, f"finishing job {job_id}", exc)


async def _poll_iteration(self: Worker) -> None:
    try:
        await _original_poll_iteration(self)
    except _AWAY as exc:
        await wait_for_redis(self.pool, "polling the queue", exc)


async def _run_job(self: Worker, job_id: str, score: int) -> None:
    # With finish_job and finish_failed_job patched, what raises here is arq's start pipeline
    # (read the job, count the try), before the job's code: running it again is safe.
    while True:
        try:
            return await _original_run_job(self, job_id, score)
        except _AWAY as exc:
            await wait_for_redis(self.pool, f"starting job {job_id}", exc)
        except Exception:
            log.exception("arq could not run job %s; the worker carries on", job_id)
            return


async def _finish_once(
    self: Worker,
    completion: Completion | None,
    job_id: str,
    finish: bool,
    result_data: bytes | None,
    result_timeout_s: float | None,
    keep_result_forever: bool,
    incr_score: int | None,
    keep_in_progress: float | None,
) -> None:
    if completion is None or not finish or keep_in_progress is not None:
        if completion is not None:
            # The job's code returned but arq will run it again (cancelled at that moment):
            # record the end now; the next run finds the job final and stops.
            await completion.commit_alone()
        await _original_finish_job(
            self,
            job_id,
            finish,
            result_data,
            result_timeout_s,
            keep_result_forever,
            incr_score,
            keep_in_progress,
        )
        return
    store = completion.store
    expire_ms = None if keep_result_forever else to_ms(result_timeout_s)
    try:
        applied = await store.apply_transitions_with_prelude(
            store.prelude_script(_ARQ_FINISH),
            completion.org,
            completion.job_id,
            completion.steps,
            result=completion.result,
            prelude_keys=(
                result_key_prefix + job_id,
                abort_jobs_ss,
                self.queue_name,
                in_progress_key_prefix + job_id,
                retry_key_prefix + job_id,
                job_key_prefix + job_id,
            ),
            prelude_args=(job_id, result_data or b"", "" if expire_ms is None else expire_ms),
        )
    except ResponseError as exc:
        # A Lua error stops the script where it happened. A corrupt record (a key of the
        # wrong type) fails after arq's part, which runs first, so arq is done with the job;
        # a Redis refusing writes (OOM) fails before it, and arq runs the job again once its
        # in-progress marker expires. Either way arq's loop must go on.
        log.error("final status of job %s not written: %s", completion.job_id, exc)
        return
    try:
        await completion.after(applied)
    except Exception:
        # Never let it reach arq's poll loop, which would stop the worker.
        log.exception("after finishing job %s", completion.job_id)


async def _start_jobs(self: Worker, job_ids: list[bytes]) -> None:
    try:
        await _original_start_jobs(self, job_ids)
    except (WatchError, RedisConnectionError, RedisTimeoutError) as exc:
        # Every path of arq's loop releases its slot except the one that raised: exactly one.
        self.job_counter -= 1
        self.sem.release()
        log.warning("Redis connection lost while picking up a job (%s); retrying at the next poll", exc)
