"""``Worker.start_jobs``, ``Worker.pool``: a job is picked up in one round trip.

arq checks and marks each job it starts in four (WATCH its in-progress key, EXISTS it, ZSCORE
the queue, MULTI PSETEX EXEC), then ``run_job`` reads it and counts the try in a fifth. For
acquire's workers (those with a :class:`~acquire.runtime.arq_patches.wakeup.WakeUp`) one script
does all of it, atomically, and the job's task finds the replies where ``run_job`` asks for
them: the first ``self.pool`` it reads answers its start pipeline with them (any other worker,
and any other read, gets the pool). The marker holds a value unique to the call, so a call that
redis-py sends again after losing the reply still starts the job, counted once.
``tests/runtime/test_pickup.py`` runs arq's own path and this one on the same queue states and
compares what each decided, sent (MONITOR) and left in Redis.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import itertools
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import NoScriptError, ResponseError

from acquire.store.lua import fill

__all__ = ["start_each", "worker_pool"]

log = logging.getLogger("acquire.jobs")

original_pool: property = Worker.pool  # type: ignore[assignment]


# arq's start_jobs checks and marks each job it starts in four round trips (WATCH its
# in-progress key, EXISTS it, ZSCORE the queue, MULTI PSETEX EXEC), then run_job reads it and
# counts the try in a fifth (GET the job, INCR and EXPIRE its try count, ZREM it from the abort
# set when the worker allows aborts). This script does all of it atomically, in one.
# KEYS: the queue | ARGV: arq job id, now (ms, the worker's clock, as arq compares), marker
# value (unique per call). arq's keys of the job are built from its id; the marker's lifetime
# and the abort set's ZREM (for a worker that allows aborts) are in the script's text, one
# script per worker setting (see _script).
# Returns nil when arq would not start the job (it runs elsewhere, has left the queue or is not
# yet due; arq's ``not score`` also skips a score of 0), else {score, job, try, 1, removed}:
# the score, then run_job's pipeline replies. A marker holding this call's own value means
# redis-py sent the call again after losing its reply: the job is this call's, counted once.
_PICK_UP = f"""
local id = ARGV[1]
local progress, try_key = '{in_progress_key_prefix}' .. id, '{retry_key_prefix}' .. id
local mark = redis.call('GET', progress)
if mark and mark ~= ARGV[3] then return false end
local score = redis.call('ZSCORE', KEYS[1], id)
if not score then return false end
local try
if mark then
  try = tonumber(redis.call('GET', try_key) or '1')
else
  local due = tonumber(score)
  if due == 0 or due > tonumber(ARGV[2]) then return false end
  redis.call('PSETEX', progress, '@TTL_MS@', ARGV[3])
end
local job = redis.call('GET', '{job_key_prefix}' .. id)
if not mark then
  try = redis.call('INCRBY', try_key, '1')
  redis.call('EXPIRE', try_key, '88400')
end
local removed = 0
@ABORT@
return {{score, job, try, 1, removed}}
"""
_ZREM_ABORT = f"removed = redis.call('ZREM', '{abort_jobs_ss}', id)"
#: The pickup script's text and name in Redis, by marker lifetime (ms) and abort permission.
_SCRIPTS: dict[tuple[int, bool], tuple[bytes, str]] = {}


def _script(ttl_ms: int, abort: bool) -> tuple[bytes, str]:
    known = _SCRIPTS.get((ttl_ms, abort))
    if known is None:
        text = fill(_PICK_UP, {"TTL_MS": ttl_ms, "ABORT": _ZREM_ABORT if abort else ""})
        body = text.encode()
        known = _SCRIPTS[ttl_ms, abort] = body, hashlib.sha1(body).hexdigest()  # noqa: S324 - its name
    return known


# Marker values: unique per process and call (arq only ever asks whether the marker exists).
_MARKS = itertools.count()
_MARK_PREFIX = secrets.token_hex(6)


class _StartPipeline:
    """What arq's ``run_job`` gets for its start pipeline: the pickup script's replies.

    It records the commands ``run_job`` queues and answers ``execute`` with the replies when
    they are the ones the script ran; anything else runs for real (and is logged: arq changed).
    """

    def __init__(self, pool: Any, expected: list[tuple[Any, ...]], replies: list[Any]) -> None:
        self._pool, self._expected, self._replies = pool, expected, replies
        self._queued: list[tuple[Any, ...]] = []

    async def __aenter__(self) -> _StartPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, command: str) -> Callable[..., _StartPipeline]:
        def queue(*args: Any) -> _StartPipeline:
            self._queued.append((command, *args))
            return self

        return queue

    async def execute(self) -> list[Any]:
        if self._queued == self._expected:
            return self._replies
        log.error("arq's run_job start pipeline is not the one acquire answers: %s", self._queued)
        pipe: Any
        async with self._pool.pipeline(transaction=True) as pipe:
            for command, *args in self._queued:
                getattr(pipe, command)(*args)
            return list(await pipe.execute())


class _Started:
    """What ``Worker.pool`` is, once, in the task of a job the pickup script started: the
    worker's pool, whose first transaction is answered by a :class:`_StartPipeline`."""

    def __init__(self, pool: Any, start: _StartPipeline) -> None:
        self._pool, self._start = pool, start

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Any:
        if transaction and shard_hint is None:
            return self._start
        return self._pool.pipeline(transaction, shard_hint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


#: In a job task started by the pickup script: the worker and its :class:`_Started`.
_STARTED: contextvars.ContextVar[tuple[Worker, _Started] | None] = contextvars.ContextVar(
    "acquire_started", default=None
)


def worker_pool(self: Worker) -> Any:
    # arq's run_job opens its start pipeline with the first self.pool it reads: in the task of
    # a job the pickup script started, that one read gets the script's replies (see _pick_up).
    started = _STARTED.get()
    if started is not None and started[0] is self:
        _STARTED.set(None)
        return started[1]
    return original_pool.fget(self)  # type: ignore[misc]


async def _pick_up(self: Worker, job_id: str) -> tuple[int, _Started] | None:
    """Pick up ``job_id`` as arq's ``start_jobs`` and ``run_job``'s start pipeline would:
    its score and the replies for ``run_job``, or None when arq would not start it."""
    mark, abort = f"{_MARK_PREFIX}.{next(_MARKS)}", self.allow_abort_jobs
    text, sha = _script(int(self.in_progress_timeout_s * 1000), abort)
    job_key, try_key = job_key_prefix + job_id, retry_key_prefix + job_id
    args = (1, self.queue_name, job_id, str(timestamp_ms()), mark)
    pool: Any = original_pool.fget(self)  # type: ignore[misc]
    try:
        reply = await pool.execute_command("EVALSHA", sha, *args)
    except NoScriptError:  # a Redis that restarted, or one that never saw it
        reply = await pool.execute_command("EVAL", text, *args)
    if reply is None:
        return None
    score, job, tries, expired, removed = reply
    expected: list[tuple[Any, ...]] = [("get", job_key), ("incr", try_key), ("expire", try_key, 88400)]
    replies = [job, tries, bool(expired)]
    if abort:
        expected.append(("zrem", abort_jobs_ss, job_id))
        replies.append(removed)
    return int(float(score)), _Started(pool, _StartPipeline(pool, expected, replies))


async def start_each(self: Worker, job_ids: Sequence[str]) -> None:
    """arq's ``start_jobs`` loop (a slot per job, a task per started job) with :data:`_PICK_UP`."""
    for job_id in job_ids:
        await self.sem.acquire()
        if self.job_counter >= self.max_jobs:
            self.sem.release()
            return
        self.job_counter += 1
        try:
            picked = await _pick_up(self, job_id)
        except ResponseError as exc:  # e.g. a Redis refusing writes: arq gives the slot back too
            log.warning("job %s not started: %s", job_id, exc)
            picked = None
        if picked is None:
            self.job_counter -= 1
            self.sem.release()
            continue
        score, started = picked
        context = contextvars.copy_context()
        context.run(_STARTED.set, (self, started))
        task = self.loop.create_task(self.run_job(job_id, score), context=context)
        task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
        self.tasks[job_id] = task
        # Let the job's code start now: the loop would otherwise go on to its next Redis round
        # trip (the next pickup, or the wait's own reads) first. arq's run_job starts the code
        # in a task of its own, so that is two loop turns.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
