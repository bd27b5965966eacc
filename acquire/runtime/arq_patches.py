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

``Worker.start_jobs`` (again), ``Worker.pool``: a job is picked up in one round trip.
    arq checks and marks each job it starts in four (WATCH its in-progress key, EXISTS it,
    ZSCORE the queue, MULTI PSETEX EXEC), then ``run_job`` reads it and counts the try in a
    fifth. For acquire's workers (those with a :class:`WakeUp`) one script does all of it,
    atomically, and the job's task finds the replies where ``run_job`` asks for them: the first
    ``self.pool`` it reads answers its start pipeline with them (any other worker, and any
    other read, gets the pool). The marker holds a value unique to the call, so a call that
    redis-py sends again after losing the reply still starts the job, counted once.
    ``tests/runtime/test_pickup.py`` runs arq's own path and this one on the same queue states
    and compares what each decided, sent (MONITOR) and left in Redis.

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

``Worker.run_job`` (again), ``finish_job``, ``finish_failed_job``: a stop signal ends the worker
with exit code 0.
    On SIGTERM arq cancels the job tasks still running once the grace has passed, and its
    ``close()`` gathers them: a cancellation that lands outside the job's own ``try`` (arq's
    start pipeline, a job-end hook, the wait on the shielded finish) escapes the gather and the
    process exits 1 mid-shutdown. The patch ends such a task quietly instead: it waits for a
    finish already being written (``close()`` would shut the pool under it), and a job whose
    finish had not begun gets its in-progress marker removed, so the next worker takes it at
    once rather than after the marker expires (its code runs again, which is safe: see
    ``finish_job`` above). Upstream fix: ``gather(..., return_exceptions=True)`` in ``close()``.

``Worker._poll_iteration`` (again), ``start_jobs``, ``finish_job``: an idle worker waits to be woken
instead of polling.
    arq reads its queue every ``poll_delay`` (50 ms in acquire: a job waited ~25 ms to start and
    every idle worker made ~20 reads a second). A worker whose ``ctx`` holds a :class:`WakeUp`
    (acquire's, see :mod:`acquire.worker`) reads the queue again at once while a read finds a
    full batch, and otherwise blocks on the queue's wake list (:mod:`acquire.store.wake`) until
    a token arrives, the earliest deferred job is due, a job running elsewhere could be given up
    (its in-progress marker's expiry), arq's health record or a cron job needs it, or at the
    latest after :attr:`WakeUp.fallback`. A worker with every slot busy waits for one of its jobs
    instead, with no Redis command at all. The queue read arq's next poll would send goes with
    the wait (BLPOP, DEL, ZRANGEBYSCORE in one round trip), so a woken worker starts its jobs
    from that read (``_poll_read``, arq's ``_poll_iteration`` without its read). Burst
    workers keep arq's loop.
    ``Worker.start_jobs`` skips ids of jobs this worker is running (arq checked each of them again
    on every read, three round trips apiece) and, when its slots cannot take every ready job,
    wakes another worker for the rest. A retry that arq schedules for later wakes a worker too,
    so the one that ends up sleeping knows when it is due. ``tests/runtime/test_wakeup.py``
    pins the source of the arq code this relies on (``main``, ``poll``, ``_poll_iteration``,
    ``start_jobs``, ``finish_job``), so an arq upgrade that changes it fails a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.utils import timestamp_ms, to_ms
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acquire.store import keys
from acquire.store.jobs import JobStore, StoredResult
from acquire.store.transition import Transition
from acquire.store.wake import wake_workers

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

#: The key of a worker's ``ctx`` that holds its :class:`WakeUp` (set at startup).
WAKE_CTX = "acquire_wake"

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
# The task writing a job's finish (arq shields it), by arq job id, until its run_job returns.
_finishing: dict[str, asyncio.Task[Any]] = {}
_original_finish_job = Worker.finish_job


_original_start_jobs = Worker.start_jobs
_original_poll_iteration = Worker._poll_iteration
_original_run_job = Worker.run_job
_original_pool: property = Worker.pool  # type: ignore[assignment]
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
    Worker.pool = property(_pool)  # type: ignore[method-assign,assignment]
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
# KEYS[7..12]: result, abort set, queue, in-progress, retry, job | ARGV[3]: arq job id,
# ARGV[4]: serialised result ('' for none), ARGV[5]: result lifetime in ms ('' for forever).
_ARQ_FINISH = """
if ARGV[4] ~= '' then
  if ARGV[5] == '' then redis.call('SET', KEYS[7], ARGV[4])
  else redis.call('SET', KEYS[7], ARGV[4], 'PX', ARGV[5]) end
end
redis.call('ZREM', KEYS[8], ARGV[3])
redis.call('ZREM', KEYS[9], ARGV[3])
redis.call('DEL', KEYS[10], KEYS[11], KEYS[12])
"""


async def _finish_job(self: Worker, job_id: str, *args: Any) -> None:
    # args: arq's finish, result_data, result_timeout_s, keep_result_forever, incr_score,
    # keep_in_progress (see _finish_once).
    completion = _pending.pop(job_id, None)
    _track_finish(job_id)
    while True:
        try:
            return await _finish_once(self, completion, job_id, *args)
        except _AWAY as exc:
            await wait_for_redis(self.pool, f"finishing job {job_id}", exc)


async def _finish_failed_job(self: Worker, job_id: str, result_data: bytes | None) -> None:
    _track_finish(job_id)
    while True:
        try:
            return await _original_finish_failed_job(self, job_id, result_data)
        except _AWAY as exc:
            await wait_for_redis(self.pool, f"finishing job {job_id}", exc)


async def _poll_iteration(self: Worker) -> None:
    wake: WakeUp | None = self.ctx.get(WAKE_CTX)
    if wake is None or self.burst:
        await _poll_once(self)
        return
    # arq's main() calls this once per poll_delay, and for a worker that is not in burst mode
    # does nothing else in its loop: so here the first call is the whole loop, paced by the
    # wait instead of arq's sleep. An exception or a cancellation ends it as it ended arq's.
    while True:
        wake.read, wake.started, wake.elsewhere = 0, 0, []
        ready, wake.ready = wake.ready, None
        await _poll_once(self, ready)
        await _wait_for_work(self, wake)


async def _poll_once(self: Worker, ready: list[bytes] | None = None) -> None:
    try:
        if ready is None:
            await _original_poll_iteration(self)
        else:
            await _poll_read(self, ready)
    except _AWAY as exc:
        await wait_for_redis(self.pool, "polling the queue", exc)


async def _poll_read(self: Worker, job_ids: list[bytes]) -> None:
    # arq's _poll_iteration (a worker not in burst mode) for ids read already, with the wake.
    if self.allow_pick_jobs and self.job_counter < self.max_jobs:
        await self.start_jobs(job_ids)
    if self.allow_abort_jobs:
        await self._cancel_aborted_jobs()
    for job_id, task in list(self.tasks.items()):
        if task.done():
            del self.tasks[job_id]
            task.result()  # as arq does: an error in run_job reaches the loop
    await self.heart_beat()


async def _run_job(self: Worker, job_id: str, score: int) -> None:
    # With finish_job and finish_failed_job patched, what raises here is arq's start pipeline
    # (read the job, count the try), before the job's code: running it again is safe.
    try:
        while True:
            try:
                return await _original_run_job(self, job_id, score)
            except _AWAY as exc:
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
        _finishing.pop(job_id, None)


def _track_finish(job_id: str) -> None:
    task = asyncio.current_task()
    if task is not None:
        _finishing[job_id] = task


def _stopping(self: Worker) -> bool:
    """Whether arq is shutting this worker down (its signal handlers cancel ``main_task``)."""
    main = self.main_task
    return not self.allow_pick_jobs or (main is not None and (main.done() or main.cancelling() > 0))


async def _cancelled_by_stop(self: Worker, job_id: str) -> None:
    finishing = _finishing.get(job_id)
    if finishing is asyncio.current_task():
        return  # finish_job called unshielded, and cancelled within: nothing else to wait for
    if finishing is not None:
        await asyncio.wait([finishing])
        return
    log.info("job %s stopped before its finish; released for the next worker", job_id)
    try:
        await self.pool.delete(in_progress_key_prefix + job_id)
    except _AWAY:
        log.warning("job %s not released (Redis away); it runs again once its marker expires", job_id)


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
        if not finish and WAKE_CTX in self.ctx:
            # Back on the queue (a retry, a run cut short): a sleeping worker must learn when.
            # Without the wake the fallback poll still finds it; finishing again would not do.
            with contextlib.suppress(*_AWAY):
                await wake_workers(self.pool, self.queue_name)
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
    wake: WakeUp | None = self.ctx.get(WAKE_CTX)
    try:
        if wake is None:
            await _original_start_jobs(self, job_ids)
        else:
            await _start_jobs_woken(self, wake, job_ids)
    except (WatchError, RedisConnectionError, RedisTimeoutError) as exc:
        # Every path of arq's loop releases its slot except the one that raised: exactly one.
        self.job_counter -= 1
        self.sem.release()
        log.warning("Redis connection lost while picking up a job (%s); retrying at the next poll", exc)


# arq's start_jobs checks and marks each job it starts in four round trips (WATCH its
# in-progress key, EXISTS it, ZSCORE the queue, MULTI PSETEX EXEC), then run_job reads it and
# counts the try in a fifth (GET the job, INCR and EXPIRE its try count, ZREM it from the abort
# set when the worker allows aborts). This script does all of it atomically, in one.
# KEYS: in-progress, queue, job, try count, abort set | ARGV: arq job id, now (ms, the worker's
# clock, as arq compares), marker lifetime (ms), marker value (unique per call), '1' to ZREM.
# Returns nil when arq would not start the job (it runs elsewhere, has left the queue or is not
# yet due; arq's ``not score`` also skips a score of 0), else {score, job, try, 1, removed}:
# the score, then run_job's pipeline replies. A marker holding this call's own value means
# redis-py sent the call again after losing its reply: the job is this call's, counted once.
_PICK_UP = b"""
local mark = redis.call('GET', KEYS[1])
if mark and mark ~= ARGV[4] then return false end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score then return false end
local try
if mark then
  try = tonumber(redis.call('GET', KEYS[4]) or '1')
else
  local due = tonumber(score)
  if due == 0 or due > tonumber(ARGV[2]) then return false end
  redis.call('PSETEX', KEYS[1], ARGV[3], ARGV[4])
end
local job = redis.call('GET', KEYS[3])
if not mark then
  try = redis.call('INCRBY', KEYS[4], '1')
  redis.call('EXPIRE', KEYS[4], '88400')
end
local removed = 0
if ARGV[5] == '1' then removed = redis.call('ZREM', KEYS[5], ARGV[1]) end
return {score, job, try, 1, removed}
"""
_PICK_UP_SHA = hashlib.sha1(_PICK_UP).hexdigest()  # noqa: S324 - the script's name in Redis
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


def _pool(self: Worker) -> Any:
    # arq's run_job opens its start pipeline with the first self.pool it reads: in the task of
    # a job the pickup script started, that one read gets the script's replies (see _pick_up).
    started = _STARTED.get()
    if started is not None and started[0] is self:
        _STARTED.set(None)
        return started[1]
    return _original_pool.fget(self)  # type: ignore[misc]


async def _pick_up(self: Worker, job_id: str) -> tuple[int, _Started] | None:
    """Pick up ``job_id`` as arq's ``start_jobs`` and ``run_job``'s start pipeline would:
    its score and the replies for ``run_job``, or None when arq would not start it."""
    ttl_ms, mark = int(self.in_progress_timeout_s * 1000), f"{_MARK_PREFIX}.{next(_MARKS)}"
    job_key, try_key = job_key_prefix + job_id, retry_key_prefix + job_id
    abort = self.allow_abort_jobs
    keys_and_args = (5, in_progress_key_prefix + job_id, self.queue_name, job_key, try_key, abort_jobs_ss)
    args = (*keys_and_args, job_id, timestamp_ms(), ttl_ms, mark, "1" if abort else "0")
    pool: Any = _original_pool.fget(self)  # type: ignore[misc]
    try:
        reply = await pool.execute_command("EVALSHA", _PICK_UP_SHA, *args)
    except NoScriptError:  # a Redis that restarted, or one that never saw it
        reply = await pool.execute_command("EVAL", _PICK_UP, *args)
    if reply is None:
        return None
    score, job, tries, expired, removed = reply
    expected: list[tuple[Any, ...]] = [("get", job_key), ("incr", try_key), ("expire", try_key, 88400)]
    replies = [job, tries, bool(expired)]
    if abort:
        expected.append(("zrem", abort_jobs_ss, job_id))
        replies.append(removed)
    return int(float(score)), _Started(pool, _StartPipeline(pool, expected, replies))


async def _start_each(self: Worker, job_ids: Sequence[str]) -> None:
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


@dataclass
class WakeUp:
    """How one acquire worker waits for work (see ``Worker._poll_iteration`` above)."""

    #: Its queue's wake list (:func:`acquire.store.keys.queue_wake`).
    key: str
    #: The longest wait with nothing due (seconds): the poll that remains, a safety net.
    fallback: float
    #: How many ids the last read returned and how many of them it started, and the ids of
    #: those another worker was running.
    read: int = 0
    started: int = 0
    elsewhere: list[str] = field(default_factory=list)
    #: How many times the worker blocked on the wake list, and how often a token woke it.
    waits: int = 0
    woken: int = 0
    #: Set while the worker is blocked on the wake list.
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    #: The due ids read with the wake, for the next loop turn (None: it reads the queue).
    ready: list[bytes] | None = None

    @classmethod
    def for_queue(cls, queue: str, fallback: float) -> WakeUp:
        return cls(keys.queue_wake(queue), fallback)


async def _start_jobs_woken(self: Worker, wake: WakeUp, job_ids: list[bytes]) -> None:
    wake.read = len(job_ids)
    # Jobs this worker runs stay on the queue until they finish; arq would check each again.
    mine = self.tasks
    fresh = [j.decode() for j in job_ids]
    fresh = [j for j in fresh if (t := mine.get(j)) is None or t.done()]
    before = {j: mine.get(j) for j in fresh}
    free = max(0, self.max_jobs - self.job_counter)
    head, rest = fresh[:free], fresh[free:]
    await _start_each(self, head)
    if rest:
        if head and all(mine.get(j) is not before[j] for j in head):
            # Every free slot took a ready job and more ids are left: wake another worker for
            # them (it passes the wake on if it fills up too), then wait for slots as arq does.
            await wake_workers(self.pool, self.queue_name)
        await _start_each(self, rest)
    started = [j for j in fresh if mine.get(j) is not before[j]]
    wake.started = len(started)
    wake.elsewhere = [j for j in fresh if j not in mine]


async def _wait_for_work(self: Worker, wake: WakeUp) -> None:
    timeout = _due_in(self, wake.fallback)
    if wake.read >= self.queue_read_limit:
        if wake.started:
            return  # a full batch that had work in it: more jobs may be ready
        # A batch of jobs all running elsewhere may hide ready ones behind it (arq reads the
        # first ids by score): read again at arq's own pace while the queue is that deep.
        timeout = min(timeout, self.poll_delay_s)
    # The next turn meets a due time already past; the few-millisecond floor of the two waits
    # below without Redis keeps them from spinning should one stay in the past.
    if not self.allow_pick_jobs:  # shutting down: arq's loop only keeps the worker's books
        await asyncio.sleep(max(0.005, min(timeout, 1.0)))
        return
    running = [t for t in self.tasks.values() if not t.done()]
    if self.job_counter >= self.max_jobs and running:
        # No slot for a new job: wait for one of ours, with no Redis command at all.
        await asyncio.wait(running, timeout=max(timeout, 0.005), return_when=asyncio.FIRST_COMPLETED)
        return
    try:
        timeout = min(timeout, await _queue_due_in(self, wake))
        if timeout < 0.001:  # BLPOP's 0 would block for ever
            return
        wake.waits += 1
        wake.idle.set()
        pipe: Any
        try:
            async with self.pool.pipeline(transaction=False) as pipe:
                # The DEL runs once BLPOP returns, and then the queue read arq's poll would
                # send next (its first ids, the due ones kept below): it sees every job whose
                # token the DEL drops (a job is on the queue before its token is pushed).
                pipe.blpop([wake.key], timeout=timeout)
                pipe.delete(wake.key)
                pipe.zrangebyscore(
                    self.queue_name,
                    "-inf",
                    "+inf",
                    start=self._queue_read_offset,
                    num=self.queue_read_limit,
                    withscores=True,
                )
                popped, _, first = await pipe.execute()
        finally:
            wake.idle.clear()
        wake.woken += popped is not None
        now = timestamp_ms()  # arq reads up to now; ids sort by score, so the due ones lead
        wake.ready = [job_id for job_id, score in first if score <= now]
    except _AWAY as exc:
        await wait_for_redis(self.pool, "waiting for jobs", exc)


def _due_in(self: Worker, fallback: float) -> float:
    """Seconds until arq's own bookkeeping needs a loop turn (health record, cron jobs)."""
    due = min(fallback, self._last_health_check + self.health_check_interval - time.time())
    now = datetime.now(tz=self.timezone)
    # arq enqueues a cron job once it is due within two windows of max(poll_delay, 0.5) s
    # (``heart_beat``): wake inside that stretch, not at its edge.
    ahead = max(self.poll_delay_s, 0.5)
    for job in self.cron_jobs:
        if job.next_run is not None:
            due = min(due, (job.next_run - now).total_seconds() - ahead)
    return due


async def _queue_due_in(self: Worker, wake: WakeUp) -> float:
    """Seconds until the earliest deferred job is due, or a job running elsewhere could be
    given up by its worker (its in-progress marker expires and arq would run it here)."""
    now_ms = time.time() * 1000
    pipe: Any
    async with self.pool.pipeline(transaction=False) as pipe:
        pipe.zrangebyscore(self.queue_name, f"({now_ms:.0f}", "+inf", start=0, num=1, withscores=True)
        for job_id in wake.elsewhere[:20]:
            pipe.pttl(in_progress_key_prefix + job_id)
        first, *ttls = await pipe.execute()
    due = float("inf")
    if first:
        due = first[0][1] / 1000 - now_ms / 1000
    for ttl in ttls:
        # -2: no marker (it finished, or it can run now); -1 cannot happen (arq sets a TTL).
        due = min(due, max(0.0, ttl / 1000) if ttl != -1 else due)
    return due
