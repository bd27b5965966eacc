"""``Worker.finish_job``: a job's end and arq's completion of it in one Redis script.

When a job's code returns, arq stores its result and takes the job off the queue in one
MULTI/EXEC. For a job that registered its final write (final status, the last events, the
result, see :func:`defer`), one Lua script does both: arq's commands, then the store's
transition (:meth:`acquire.store.jobs.JobStore.apply_transitions_with_prelude`). One command
per finished job, and no window between the two writes, so a worker that dies leaves the job
either finished for both or for neither (and then it simply runs again). arq's result record
is written (by a second command) only when the transition did not apply, the job being final
already or its status gone: once it did, acquire's status and result say all that record
would, and nothing reads it (the reconciler looks only at jobs whose status is not final).
``tests/runtime/test_arq_patches.py`` compares the keys both paths leave in Redis, so an arq
upgrade that changes its bookkeeping fails a test.

``Worker.finish_failed_job`` and ``finish_job`` also wait out a Redis outage (:mod:`.outage`)
and note the task that writes a job's finish, for a stop signal (:mod:`.guard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from redis.exceptions import ResponseError

from acquire.runtime.arq_patches.outage import AWAY, wait_for_redis
from acquire.runtime.arq_patches.wakeup import WAKE_CTX
from acquire.store.jobs import JobStore, StoredResult
from acquire.store.transition import Transition
from acquire.store.wake import wake_workers

__all__ = ["Completion", "defer", "finish_failed_job", "finish_job", "finishing"]

log = logging.getLogger("acquire.jobs")


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
#: The task writing a job's finish (arq shields it), by arq job id, until its run_job returns.
finishing: dict[str, asyncio.Task[Any]] = {}
original_finish_job = Worker.finish_job
original_finish_failed_job = Worker.finish_failed_job


def defer(arq_job_id: str, completion: Completion) -> None:
    """Have arq's completion of ``arq_job_id`` carry ``completion`` (see :func:`installed`)."""
    _pending[arq_job_id] = completion


# arq's ``Worker.finish_job`` (the same in 0.26 to 0.28) for a job that finished (``finish``,
# no ``keep_in_progress``), command for command, before the job's final transition; arq's
# result record follows in a command of its own, only when the transition did not apply (see
# _arq_result). KEYS[3]: the queue | ARGV[5]: the arq job id.
_ARQ_FINISH = f"""
local arq_id = ARGV[5]
redis.call('ZREM', '{abort_jobs_ss}', arq_id)
redis.call('ZREM', KEYS[3], arq_id)
redis.call('DEL', '{in_progress_key_prefix}' .. arq_id, '{retry_key_prefix}' .. arq_id,
           '{job_key_prefix}' .. arq_id)
"""


async def _arq_result(self: Worker, job_id: str, result_data: bytes, expire_s: float | None) -> None:
    """arq's result record of a run whose final status did not apply, as arq writes it.

    Once the status applied, acquire's status and result say all that record would, and
    nothing reads it: the reconciler reads arq's result only for a job whose status is not
    final. A run refused as already final (a redelivery) or whose status is gone keeps it.
    """
    try:
        await self.pool.set(result_key_prefix + job_id, result_data, px=to_ms(expire_s))
    except ResponseError as exc:
        log.error("arq's result of job %s not written: %s", job_id, exc)


async def finish_job(self: Worker, job_id: str, *args: Any) -> None:
    # args: arq's finish, result_data, result_timeout_s, keep_result_forever, incr_score,
    # keep_in_progress (see _finish_once).
    completion = _pending.pop(job_id, None)
    track_finish(job_id)
    while True:
        try:
            return await _finish_once(self, completion, job_id, *args)
        except AWAY as exc:
            await wait_for_redis(self.pool, f"finishing job {job_id}", exc)


async def finish_failed_job(self: Worker, job_id: str, result_data: bytes | None) -> None:
    track_finish(job_id)
    while True:
        try:
            return await original_finish_failed_job(self, job_id, result_data)
        except AWAY as exc:
            await wait_for_redis(self.pool, f"finishing job {job_id}", exc)


def track_finish(job_id: str) -> None:
    task = asyncio.current_task()
    if task is not None:
        finishing[job_id] = task


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
        await original_finish_job(
            self,
            job_id,
            finish,
            result_data,
            result_timeout_s,
            keep_result_forever,
            incr_score,
            keep_in_progress,
        )
        if not finish and WAKE_CTX in self.ctx:
            # Back on the queue (a retry, a run cut short): a sleeping worker must learn when.
            # Without the wake the fallback poll still finds it; finishing again would not do.
            with contextlib.suppress(*AWAY):
                await wake_workers(self.pool, self.queue_name)
        return
    store = completion.store
    try:
        applied = await store.apply_transitions_with_prelude(
            store.prelude_script(_ARQ_FINISH, 1),
            completion.org,
            completion.job_id,
            completion.steps,
            result=completion.result,
            prelude_keys=(self.queue_name,),
            prelude_args=(job_id,),
        )
    except ResponseError as exc:
        # A Lua error stops the script where it happened. A corrupt record (a key of the
        # wrong type) fails after arq's part, which runs first, so arq is done with the job;
        # a Redis refusing writes (OOM) fails before it, and arq runs the job again once its
        # in-progress marker expires. Either way arq's loop must go on.
        log.error("final status of job %s not written: %s", completion.job_id, exc)
        return
    if applied != 1 and result_data:
        await _arq_result(self, job_id, result_data, None if keep_result_forever else result_timeout_s)
    try:
        await completion.after(applied)
    except Exception:
        # Never let it reach arq's poll loop, which would stop the worker.
        log.exception("after finishing job %s", completion.job_id)
