"""acquire's patches of arq's ``Worker``, installed together by :func:`install`.

arq has no hooks for any of them, so each wraps one method once per worker process; every job
that does not need the new behaviour, and any other arq worker in the process, runs arq's code.
One module per patched area, each saying what it changes, why, and the upstream fix:

- :mod:`.finish` (``Worker.finish_job``, ``finish_failed_job``): a job's end and arq's
  completion of it in one Redis script;
- :mod:`.pickup` (``Worker.pool``, and ``start_jobs`` through :mod:`.wakeup`): a job is picked
  up in one round trip, arq's ``run_job`` start pipeline included;
- :mod:`.wakeup` (``Worker._poll_iteration``, ``start_jobs``): an idle worker waits to be woken
  instead of polling; a connection lost while picking up a job does not stop the worker;
- :mod:`.guard` (``Worker.run_job``): one bad queue entry, or a stop signal, does not end
  the worker badly;
- :mod:`.outage`: a Redis outage of any length is waited out, by each patch above.
"""

from __future__ import annotations

from arq.worker import Worker

from acquire.runtime.arq_patches.finish import Completion, defer, finish_failed_job, finish_job
from acquire.runtime.arq_patches.guard import run_job
from acquire.runtime.arq_patches.outage import REDIS_UNAVAILABLE, wait_for_redis
from acquire.runtime.arq_patches.pickup import worker_pool
from acquire.runtime.arq_patches.wakeup import WAKE_CTX, WakeUp, poll_iteration, start_jobs

__all__ = [
    "REDIS_UNAVAILABLE",
    "WAKE_CTX",
    "Completion",
    "WakeUp",
    "defer",
    "install",
    "installed",
    "wait_for_redis",
]


def installed() -> bool:
    """Whether arq's ``finish_job`` commits registered completions in this process."""
    return Worker.finish_job is finish_job


def install() -> None:
    """Patch arq's ``Worker`` methods listed in the module docstring (idempotent)."""
    Worker.finish_job = finish_job  # type: ignore[method-assign,assignment]
    Worker.start_jobs = start_jobs  # type: ignore[method-assign]
    Worker._poll_iteration = poll_iteration  # type: ignore[method-assign]
    Worker.run_job = run_job  # type: ignore[method-assign]
    Worker.pool = property(worker_pool)  # type: ignore[method-assign,assignment]
    Worker.finish_failed_job = finish_failed_job  # type: ignore[method-assign]
