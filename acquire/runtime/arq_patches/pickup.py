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

A woken worker does not even send that script: the one that goes with its wait (after BLPOP,
in the same round trip, see :mod:`.wakeup`) reads the queue and picks up the first job arq
would start, and :func:`start_each` starts it from that reply. What the wait picked up and no
job took (the worker stopping; a wait cancelled or a connection lost as Redis ran it) is
handed back (:func:`hand_back`): marker deleted, try uncounted, so it runs at once elsewhere
instead of waiting out arq's in-progress timeout (``tests/runtime/test_wait_pickup.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import itertools
import logging
import secrets
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import NoScriptError, ResponseError

from acquire.store.lua import fill

__all__ = [
    "hand_back",
    "holds_jobs",
    "new_mark",
    "queue_wait_pick_up",
    "start_each",
    "wait_pick_up_reply",
    "worker_pool",
]

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
#: Pickup scripts' texts and names in Redis, by template, marker lifetime (ms) and abort permission.
_SCRIPTS: dict[tuple[str, int, bool], tuple[bytes, str]] = {}


def _script(ttl_ms: int, abort: bool, template: str = _PICK_UP) -> tuple[bytes, str]:
    known = _SCRIPTS.get((template, ttl_ms, abort))
    if known is None:
        text = fill(template, {"TTL_MS": ttl_ms, "ABORT": _ZREM_ABORT if abort else ""})
        body = text.encode()
        known = _SCRIPTS[template, ttl_ms, abort] = body, hashlib.sha1(body).hexdigest()  # noqa: S324 - its name
    return known


# Marker values: unique per process and call (arq only ever asks whether the marker exists).
_MARKS = itertools.count()
_MARK_PREFIX = secrets.token_hex(6)


def new_mark() -> str:
    """An in-progress marker value no other pickup uses."""
    return f"{_MARK_PREFIX}.{next(_MARKS)}"


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


def _started(self: Worker, pool: Any, job_id: str, job: Any, tries: Any, removed: Any) -> _Started:
    """The :class:`_Started` whose start pipeline answers ``run_job`` with a pickup's replies."""
    job_key, try_key = job_key_prefix + job_id, retry_key_prefix + job_id
    expected: list[tuple[Any, ...]] = [("get", job_key), ("incr", try_key), ("expire", try_key, 88400)]
    replies = [job, tries, True]
    if self.allow_abort_jobs:
        expected.append(("zrem", abort_jobs_ss, job_id))
        replies.append(removed)
    return _Started(pool, _StartPipeline(pool, expected, replies))


async def _pick_up(self: Worker, job_id: str) -> tuple[int, _Started] | None:
    """Pick up ``job_id`` as arq's ``start_jobs`` and ``run_job``'s start pipeline would:
    its score and the replies for ``run_job``, or None when arq would not start it."""
    taken = _held(self).pop(job_id, None)
    if taken is not None:  # picked up with the worker's wait (see wait_and_pick_up)
        return taken.score, taken.started
    mark = new_mark()
    text, sha = _script(int(self.in_progress_timeout_s * 1000), self.allow_abort_jobs)
    args = (1, self.queue_name, job_id, str(timestamp_ms()), mark)
    pool: Any = original_pool.fget(self)  # type: ignore[misc]
    try:
        reply = await pool.execute_command("EVALSHA", sha, *args)
    except NoScriptError:  # a Redis that restarted, or one that never saw it
        reply = await pool.execute_command("EVAL", text, *args)
    if reply is None:
        return None
    score, job, tries, _, removed = reply
    return int(float(score)), _started(self, pool, job_id, job, tries, removed)


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


# ---- a pickup that rides on the worker's wait -------------------------------------------
#
# A woken worker would read the queue and then pick the job up: two round trips between the
# token and the job's code. This script goes in the wait's pipeline, after BLPOP (it runs once
# BLPOP returns), and does both: it reads the queue as arq's poll would (the reply the wait
# used to get from ZRANGEBYSCORE) and picks up the first job that arq's start_jobs would start
# (due by Redis's clock, not running anywhere), as _PICK_UP does. A marker holding this call's
# own value is a pipeline redis-py sent again after losing its reply: the job is still ours.
# KEYS: the queue | ARGV: read offset, read count, marker value, '1' to pick up ('0': a worker
# with no free slot only reads). Returns {read} when it started nothing, else
# {read, id, score, job, try, removed}.
_WAIT_PICK_UP = f"""
local read = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '+inf', 'WITHSCORES', 'LIMIT', ARGV[1], ARGV[2])
if ARGV[4] ~= '1' then return {{read}} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #read, 2 do
  local due = tonumber(read[i + 1])
  if due > now then break end
  local id = read[i]
  local progress, try_key = '{in_progress_key_prefix}' .. id, '{retry_key_prefix}' .. id
  local mark = redis.call('GET', progress)
  if due ~= 0 and (not mark or mark == ARGV[3]) then
    local try
    if mark then
      try = tonumber(redis.call('GET', try_key) or '1')
    else
      redis.call('PSETEX', progress, '@TTL_MS@', ARGV[3])
      try = redis.call('INCRBY', try_key, '1')
      redis.call('EXPIRE', try_key, '88400')
    end
    local job = redis.call('GET', '{job_key_prefix}' .. id)
    local removed = 0
    @ABORT@
    return {{read, id, read[i + 1], job, try, removed}}
  end
end
return {{read}}
"""

# Undoes the pickups that the wait made with a marker value (ARGV[1]) and that no job of this
# worker took: the marker goes and the try is not counted, as if arq had never picked the job
# up. KEYS: the queue | ARGV: marker value, read offset, read count, then the ids to look at
# (none: the ids of the queue read the wait's script made). Returns the ids released.
_HAND_BACK = f"""
local ids = {{}}
if #ARGV > 3 then
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '+inf', 'LIMIT', ARGV[2], ARGV[3])
end
local released = {{}}
for _, id in ipairs(ids) do
  local progress, try_key = '{in_progress_key_prefix}' .. id, '{retry_key_prefix}' .. id
  if redis.call('GET', progress) == ARGV[1] then
    redis.call('DEL', progress)
    if redis.call('DECR', try_key) <= 0 then redis.call('DEL', try_key) end
    released[#released + 1] = id
  end
end
return released
"""


@dataclass
class _Held:
    """A job the wait picked up, until :func:`start_each` starts it."""

    mark: str
    score: int
    started: _Started
    removed: bool


#: Jobs picked up with a worker's wait, by worker and arq job id.
_HELD: weakref.WeakKeyDictionary[Worker, dict[str, _Held]] = weakref.WeakKeyDictionary()


def _held(self: Worker) -> dict[str, _Held]:
    held = _HELD.get(self)
    if held is None:
        held = _HELD[self] = {}
    return held


def holds_jobs(self: Worker) -> bool:
    """Whether the worker's wait picked up jobs that :func:`start_each` has not started."""
    return bool(_HELD.get(self))


def queue_wait_pick_up(self: Worker, pipe: Any, mark: str) -> None:
    """Add the pickup that rides on the wait to ``pipe`` (after the wait's BLPOP)."""
    _, sha = _script(int(self.in_progress_timeout_s * 1000), self.allow_abort_jobs, _WAIT_PICK_UP)
    pipe.execute_command("EVALSHA", sha, 1, self.queue_name, *_wait_args(self, mark))


def _wait_args(self: Worker, mark: str) -> tuple[Any, ...]:
    free = self.allow_pick_jobs and self.job_counter < self.max_jobs
    return self._queue_read_offset, self.queue_read_limit, mark, "1" if free else "0"


async def wait_pick_up_reply(
    self: Worker, reply: Any, mark: str
) -> tuple[list[tuple[bytes, float]], str | None]:
    """The queue read of the wait's pickup (``reply``, its pipeline reply) and the id of the
    job it picked up (None for none), which :func:`start_each` then starts with no command.

    A Redis without the script (restarted) gets it now, and runs it once.
    """
    pool: Any = original_pool.fget(self)  # type: ignore[misc]
    if isinstance(reply, NoScriptError):
        text, _ = _script(int(self.in_progress_timeout_s * 1000), self.allow_abort_jobs, _WAIT_PICK_UP)
        reply = await pool.execute_command("EVAL", text, 1, self.queue_name, *_wait_args(self, mark))
    if isinstance(reply, Exception):
        raise reply
    read, *picked = reply
    first = [(job_id, float(score)) for job_id, score in zip(read[::2], read[1::2], strict=True)]
    if not picked:
        return first, None
    raw_id, score, job, tries, removed = picked
    job_id = raw_id.decode()
    started = _started(self, pool, job_id, job, tries, removed)
    _held(self)[job_id] = _Held(mark, int(float(score)), started, bool(removed))
    return first, job_id


async def hand_back(self: Worker, mark: str | None = None) -> list[str]:
    """Release what the wait picked up and no job took: the jobs :func:`start_each` did not
    start, and with ``mark`` any job the wait with that marker may have picked up unseen (its
    reply lost, or the wait cancelled as Redis ran it). Returns the ids released."""
    held = _held(self)
    pool: Any = original_pool.fget(self)  # type: ignore[misc]
    released: list[str] = []
    by_mark: dict[str, list[str]] = {}
    for job_id, taken in list(held.items()):
        by_mark.setdefault(taken.mark, []).append(job_id)
    if mark is not None:
        by_mark.setdefault(mark, [])
    for value, ids in by_mark.items():
        args = (value, self._queue_read_offset, self.queue_read_limit, *ids)
        done = await pool.eval(_HAND_BACK, 1, self.queue_name, *args)
        released += [job_id.decode() for job_id in done]
        for job_id in ids:
            taken = held.pop(job_id)
            if taken.removed:  # the pickup took an abort request that the job never saw
                await pool.zadd(abort_jobs_ss, {job_id: timestamp_ms()})
    if released:
        log.info("handed back jobs picked up with a wait that did not start them: %s", released)
    return released
