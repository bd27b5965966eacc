"""``Worker._poll_iteration``, ``start_jobs``: an idle worker waits to be woken instead of polling.

arq reads its queue every ``poll_delay`` (50 ms in acquire: a job waited ~25 ms to start and
every idle worker made ~20 reads a second). A worker whose ``ctx`` holds a :class:`WakeUp`
(acquire's, see :mod:`acquire.worker`) reads the queue again at once while a read finds a full
batch, and otherwise blocks on the queue's wake list (:mod:`acquire.store.wake`) until a token
arrives, the earliest deferred job is due, a job running elsewhere could be given up (its
in-progress marker's expiry), arq's health record or a cron job needs it, or at the latest after
:attr:`WakeUp.fallback`. A worker with every slot busy waits for one of its jobs instead, with no
Redis command at all. The queue read arq's next poll would send goes with the wait (BLPOP and
a script in one round trip), and the script also picks up the first job arq would start
(:mod:`.pickup`), so a woken worker starts its jobs from that reply (``_poll_read``, arq's
``_poll_iteration`` without its read), the first with no command of its own; when that read
held the whole queue the next wait takes its deadline from it too, with no read of its own: an
idle worker sends two commands per fallback poll. Burst workers keep arq's loop.

``Worker.start_jobs`` skips ids of jobs this worker is running (arq checked each of them again
on every read, three round trips apiece), picks each job up in one script (:mod:`.pickup`) and,
when its slots cannot take every ready job, wakes another worker for the rest. A retry that arq
schedules for later wakes a worker too (:mod:`.finish`), so the one that ends up sleeping knows
when it is due. ``tests/runtime/test_wakeup.py`` pins the source of the arq code this relies on
(``main``, ``poll``, ``_poll_iteration``, ``start_jobs``, ``finish_job``), so an arq upgrade
that changes it fails a test.

A connection lost while arq picks up a job does not stop the worker either: arq 0.28 takes a
concurrency slot, then WATCHes the job's in-progress key and reads it. When the connection dies
after the WATCH, redis-py cannot retry (the watch is gone) and raises ``WatchError``, which arq
only catches around EXEC: it would escape the poll loop, end the worker process and never give
the slot back. The patch releases the slot and leaves the rest of the batch for the next poll.
Upstream fix: catch ``WatchError``/``ConnectionError`` over the whole WATCH block in
``start_jobs``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acquire.runtime.arq_patches.outage import AWAY, wait_for_redis
from acquire.runtime.arq_patches.pickup import (
    hand_back,
    holds_jobs,
    new_mark,
    queue_wait_pick_up,
    start_each,
    wait_pick_up_reply,
)
from acquire.store import keys
from acquire.store.wake import wake_workers

__all__ = ["WAKE_CTX", "WakeUp", "poll_iteration", "start_jobs"]

#: The key of a worker's ``ctx`` that holds its :class:`WakeUp` (set at startup).
WAKE_CTX = "acquire_wake"

log = logging.getLogger("acquire.jobs")

#: How long a stopping worker tries to hand back what its cancelled wait picked up (s).
_HAND_BACK_TIMEOUT = 2.0

original_start_jobs = Worker.start_jobs
original_poll_iteration = Worker._poll_iteration


async def poll_iteration(self: Worker) -> None:
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
        # What that same read said of the jobs not yet due; nothing without it (arq's read).
        later, wake.later = (wake.later if ready is not None else None), None
        try:
            await _poll_once(self, ready)
        finally:
            if holds_jobs(self):  # picked up with the wait, not started (a stop, a full worker)
                await _hand_back_quietly(self, None)
        await _wait_for_work(self, wake, later)


async def _poll_once(self: Worker, ready: list[bytes] | None = None) -> None:
    try:
        if ready is None:
            await original_poll_iteration(self)
        else:
            await _poll_read(self, ready)
    except AWAY as exc:
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


async def start_jobs(self: Worker, job_ids: list[bytes]) -> None:
    wake: WakeUp | None = self.ctx.get(WAKE_CTX)
    try:
        if wake is None:
            await original_start_jobs(self, job_ids)
        else:
            await _start_jobs_woken(self, wake, job_ids)
    except (WatchError, RedisConnectionError, RedisTimeoutError) as exc:
        # Every path of arq's loop releases its slot except the one that raised: exactly one.
        self.job_counter -= 1
        self.sem.release()
        log.warning("Redis connection lost while picking up a job (%s); retrying at the next poll", exc)


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
    #: With ``ready``, when that read held the whole queue: when its first job not yet due is
    #: due (ms since 1970, ``inf`` for none), so the next wait need not read it again.
    later: float | None = None

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
    await start_each(self, head)
    if rest:
        if head and all(mine.get(j) is not before[j] for j in head):
            # Every free slot took a ready job and more ids are left: wake another worker for
            # them (it passes the wake on if it fills up too), then wait for slots as arq does.
            await wake_workers(self.pool, self.queue_name)
        await start_each(self, rest)
    started = [j for j in fresh if mine.get(j) is not before[j]]
    wake.started = len(started)
    wake.elsewhere = [j for j in fresh if j not in mine]


async def _wait_for_work(self: Worker, wake: WakeUp, later: float | None = None) -> None:
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
    mark = new_mark()
    try:
        timeout = min(timeout, await _queue_due_in(self, wake, later))
        if timeout < 0.001:  # BLPOP's 0 would block for ever
            return
        wake.waits += 1
        wake.idle.set()
        pipe: Any
        try:
            async with self.pool.pipeline(transaction=False) as pipe:
                # Once BLPOP returns, the script reads the queue as arq's poll would next and
                # picks up the first job arq would start (pickup.queue_wait_pick_up): a job
                # whose token BLPOP took is on the queue already (it is put there first). The
                # list holds one token at most (acquire.store.wake), so BLPOP leaves it empty.
                pipe.blpop([wake.key], timeout=timeout)
                queue_wait_pick_up(self, pipe, mark)
                popped, reply = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            # A stop: Redis may have run the script as the wait was cancelled.
            await _hand_back_quietly(self, mark)
            raise
        finally:
            wake.idle.clear()
        if isinstance(popped, Exception):
            raise popped
        wake.woken += popped is not None
        try:
            first, picked = await wait_pick_up_reply(self, reply, mark)
        except ResponseError as exc:  # e.g. a Redis refusing writes: the script stopped there
            log.warning("jobs not picked up with the wait: %s", exc)
            return  # the next turn reads the queue itself
        now = timestamp_ms()  # arq reads up to now; ids sort by score, so the due ones lead
        due = [job_id for job_id, score in first if score <= now]
        if self._queue_read_offset == 0 and len(first) < self.queue_read_limit:
            # The whole queue: its first job not yet due is the next wait's deadline. A job
            # put on the queue later pushes a token, a retry arq schedules too (.finish).
            rest = [(job_id, score) for job_id, score in first[len(due) :] if job_id.decode() != picked]
            wake.later = float(rest[0][1]) if rest else float("inf")
        if picked is not None:  # due by Redis's clock: it starts first, whatever the worker's says
            due = [picked.encode(), *(job_id for job_id in due if job_id.decode() != picked)]
        wake.ready = due
    except AWAY as exc:
        await wait_for_redis(self.pool, "waiting for jobs", exc)
        await hand_back(self, mark)  # the script may have run before the connection was lost


async def _hand_back_quietly(self: Worker, mark: str | None) -> None:
    """:func:`hand_back` as the worker stops: bounded, and never raising (the stop goes on)."""
    try:
        async with asyncio.timeout(_HAND_BACK_TIMEOUT):
            await hand_back(self, mark)
    except Exception as exc:  # arq's in-progress timeout frees the job anyway
        log.warning("could not hand back jobs picked up by a stopped wait: %s", exc)


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


async def _queue_due_in(self: Worker, wake: WakeUp, later: float | None) -> float:
    """Seconds until the earliest deferred job is due (``later``, in ms, when the last read
    told), or a job running elsewhere could be given up by its worker (its in-progress
    marker expires and arq would run it here). No command when the read told all."""
    now_ms = time.time() * 1000
    elsewhere = wake.elsewhere[:20]
    if later is not None and not elsewhere:
        return (later - now_ms) / 1000
    pipe: Any
    async with self.pool.pipeline(transaction=False) as pipe:
        if later is None:
            pipe.zrangebyscore(self.queue_name, f"({now_ms:.0f}", "+inf", start=0, num=1, withscores=True)
        for job_id in elsewhere:
            pipe.pttl(in_progress_key_prefix + job_id)
        replies = await pipe.execute()
    if later is None:
        first, *ttls = replies
        later = float(first[0][1]) if first else float("inf")
    else:
        ttls = replies
    due = (later - now_ms) / 1000
    for ttl in ttls:
        # -2: no marker (it finished, or it can run now); -1 cannot happen (arq sets a TTL).
        due = min(due, max(0.0, ttl / 1000) if ttl != -1 else due)
    return due
