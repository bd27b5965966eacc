"""One watchdog per worker: what running jobs need on a timer, without a timer per job.

Most jobs of a busy worker end within milliseconds, and scheduling then cancelling a timer or
two per job (the deferred ``job_started``, the soft time limit) was a measurable share of a
short job's cost. Instead each job registers while its code runs, and one task wakes only
when the earliest registered job needs attention:

- a job still running :data:`START_FLUSH_DELAY` after it started gets its ``job_started``
  written on its own (:meth:`Watched.flush_start`); a faster job writes start and end in one
  round trip;
- a job past its soft time limit is cancelled (:meth:`Watched.expire`); the runtime then
  reports a clear ``job_failed`` reason. As with ``asyncio.timeout``, the runtime counts
  cancellation requests, so a shutdown arriving at the same time is not mistaken for it.

An idle worker's watchdog waits without a timer: no wake-ups at all.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

__all__ = ["START_FLUSH_DELAY", "Watchdog", "Watched"]

#: A job still running after this long has its ``job_started`` written on its own.
START_FLUSH_DELAY = 0.02


class Watched(Protocol):
    """What the watchdog needs from a running job (a :class:`~acquire.runtime.context.JobContext`)."""

    def flush_start(self) -> None: ...

    def expire(self) -> None: ...


class Watchdog:
    """Flushes ``job_started`` of jobs past 20 ms and expires jobs past their soft limit."""

    def __init__(self) -> None:
        # job -> [start flush due (inf once flushed), soft deadline], in loop time
        self._jobs: dict[Watched, list[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._next = math.inf
        #: How many times the task has woken (diagnostics; a busy worker's stays low).
        self.wakeups = 0

    def watch(self, job: Watched, *, started: float, deadline: float) -> None:
        """Look after ``job`` (loop times: when it started, when its soft limit passes)."""
        due = started + START_FLUSH_DELAY
        self._jobs[job] = [due, deadline]
        if self._task is None or self._task.done():  # first job, or a loop that ended
            self._task = asyncio.get_running_loop().create_task(self._run(), name="acquire-watchdog")
        elif due < self._next:
            # Move the wake-up earlier rather than waking the task now: a busy worker's jobs
            # mostly end within milliseconds, and waking per job cost each one a task step.
            self._arm(due)

    def unwatch(self, job: Watched) -> None:
        """The job's code has returned (or raised): nothing more to do for it."""
        self._jobs.pop(job, None)

    def _poke(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _arm(self, when: float) -> None:
        """Wake the task at loop time ``when`` (instead of any earlier plan; inf: never)."""
        if self._wakeup is not None:
            self._wakeup.cancel()
        self._next = when
        self._wakeup = asyncio.get_running_loop().call_at(when, self._poke) if when < math.inf else None

    def close(self) -> None:
        """Stop the task (worker shutdown); jobs still registered are no longer looked after."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._jobs.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            soonest = math.inf
            for job, times in list(self._jobs.items()):
                due, deadline = times
                if deadline <= now:
                    del self._jobs[job]
                    job.expire()
                    continue
                if due <= now:
                    times[0] = due = math.inf
                    job.flush_start()
                soonest = min(soonest, due, deadline)
            self.wakeups += 1
            # With nothing registered, wait without a timer until watch() arms one.
            self._waiter = loop.create_future()
            self._arm(soonest)
            try:
                await self._waiter
            finally:
                self._arm(math.inf)
                self._waiter = None
