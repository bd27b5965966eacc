"""``Worker.run_job``: whatever goes wrong with one queue entry, or a stop signal, the worker
ends well.

Whatever else goes wrong with one queue entry, the worker's loop goes on. arq re-raises a
``run_job`` exception in its poll loop, which ends the worker process; it reads a job's fields
outside its own error handling (``et`` becomes a datetime, ``t`` is compared), so one malformed
entry ended every worker that picked it up in turn. The JSON deserializer refuses such entries
(:mod:`acquire.serialization`); this patch logs anything else instead of stopping, and leaves
the job where arq left it (arq runs it again once its in-progress marker expires, and fails it
after ``max_tries``). A Redis outage in arq's start pipeline is waited out (:mod:`.outage`).

A stop signal ends the worker with exit code 0. On SIGTERM arq cancels the job tasks still
running once the grace has passed, and its ``close()`` gathers them: a cancellation that lands
outside the job's own ``try`` (arq's start pipeline, a job-end hook, the wait on the shielded
finish) escapes the gather and the process exits 1 mid-shutdown. The patch ends such a task
quietly instead: it waits for a finish already being written (``close()`` would shut the pool
under it), and a job whose finish had not begun gets its in-progress marker removed, so the
next worker takes it at once rather than after the marker expires (its code runs again, which
is safe: see :mod:`.finish`). Upstream fix: ``gather(..., return_exceptions=True)`` in
``close()``.
"""

from __future__ import annotations

import asyncio
import logging

from arq.constants import in_progress_key_prefix
from arq.worker import Worker

from acquire.runtime.arq_patches.finish import finishing
from acquire.runtime.arq_patches.outage import AWAY, wait_for_redis

__all__ = ["run_job"]

log = logging.getLogger("acquire.jobs")

original_run_job = Worker.run_job


async def run_job(self: Worker, job_id: str, score: int) -> None:
    # With finish_job and finish_failed_job patched, what raises here is arq's start pipeline
    # (read the job, count the try), before the job's code: running it again is safe.
    try:
        while True:
            try:
                return await original_run_job(self, job_id, score)
            except AWAY as exc:
                await wait_for_redis(self.pool, f"starting job {job_id}", exc)
            except Exception:
                log.exception("arq could not run job %s; the worker carries on", job_id)
                # Counted as failed (arq did not count it): its health record shows it, and a
                # burst worker's max_burst_jobs counts it rather than waiting for it again.
                self.jobs_failed += 1
                return
            except asyncio.CancelledError:
                if not _stopping(self):
                    raise
                return await _cancelled_by_stop(self, job_id)
    finally:
        finishing.pop(job_id, None)


def _stopping(self: Worker) -> bool:
    """Whether arq is shutting this worker down (its signal handlers cancel ``main_task``)."""
    main = self.main_task
    return not self.allow_pick_jobs or (main is not None and (main.done() or main.cancelling() > 0))


async def _cancelled_by_stop(self: Worker, job_id: str) -> None:
    writing = finishing.get(job_id)
    if writing is asyncio.current_task():
        return  # finish_job called unshielded, and cancelled within: nothing else to wait for
    if writing is not None:
        await asyncio.wait([writing])
        return
    log.info("job %s stopped before its finish; released for the next worker", job_id)
    try:
        await self.pool.delete(in_progress_key_prefix + job_id)
    except AWAY:
        log.warning("job %s not released (Redis away); it runs again once its marker expires", job_id)
