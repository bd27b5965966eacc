"""One Redis reader per process, fanning job events out to every SSE client.

A naive SSE endpoint runs one blocking ``XREAD`` per client, so 1,000 browsers cost 1,000
Redis connections. :class:`EventFanout` instead runs a single background task that does one
blocking ``XREAD`` over every job stream that somebody currently follows, on one dedicated
connection, and hands each entry (decoded and SSE-encoded once) to the bounded queue of every
subscriber of that job.

Gap-free joining. The reader keeps one cursor per stream: the id of the last entry it
dispatched. A subscriber that resumes from id ``after`` registers (synchronously, so no
dispatch can slip in between) and notes the stream's cursor ``C`` at that instant; from then on
it receives every entry after ``C``. If ``C`` is ahead of ``after`` it reads the entries in
``(after, C]`` itself with ``XRANGE`` on the shared pool. Entries at or before the last id it
yielded are dropped, so every event is delivered exactly once, in order.

Wake-ups. When a stream is followed for the first time the blocking ``XREAD`` in flight does
not include it. The reader also reads a private wake-up stream; a new stream appends one entry
to it, which ends the blocking call at once. Because the reader reads the wake-up stream from a
concrete id (never ``$``), a wake-up that reaches Redis before the ``XREAD`` is not lost.

Slow clients. Each subscriber has a bounded queue. A client too slow to keep up (its queue is
full when an event arrives) is dropped: its subscription ends, its SSE stream closes, and the
browser reconnects with ``Last-Event-ID`` and catches up from Redis. One slow client therefore
never delays the others or grows memory without bound.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from sse_starlette import JSONServerSentEvent

from acquire.events import JobEvent
from acquire.store import keys
from acquire.store.events import decode_entry, read_range

__all__ = ["EventFanout", "FanoutStats", "StreamEvent", "Subscription", "encode_sse"]

log = logging.getLogger("acquire.web.sse")

_WAKE_TTL = 3600
_READER_NAME = "acquire-sse-fanout"
_ERROR_BACKOFF = (0.05, 2.0)  # first and longest delay before retrying a failed XREAD


def _id_key(stream_id: str) -> tuple[int, int]:
    """A stream id as a sortable pair (``"0"`` sorts first)."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def encode_sse(event: JobEvent) -> bytes:
    """The SSE wire form of an event: ``id`` = stream id, ``event`` = type, ``data`` = JSON."""
    return JSONServerSentEvent(
        data=event.model_dump(mode="json"), id=event.id, event=event.event.value
    ).encode()


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event as delivered to subscribers: decoded and SSE-encoded once for all of them.

    ``order`` (the id as a sortable pair) and ``terminal`` are worked out once here too: every
    subscriber of the job compares and checks them for each event.
    """

    id: str
    event: JobEvent
    sse: bytes
    order: tuple[int, int]
    terminal: bool

    @classmethod
    def of(cls, event: JobEvent) -> StreamEvent:
        return cls(event.id, event, encode_sse(event), _id_key(event.id), event.event.terminal)


@dataclass(frozen=True, slots=True)
class FanoutStats:
    """What the reader is doing, for tests, benchmarks and health endpoints."""

    subscribers: int
    streams: int
    reads: int
    events_read: int
    dropped: int
    reader_connections: int


class Subscription:
    """One client's view of one job's events; iterate it to receive them in order.

    Iteration ends after the terminal event, or when the client was dropped for being too
    slow (:attr:`dropped`), or when the fan-out closes. Always use it as an async context
    manager (or call :meth:`close`) so the reader stops following streams nobody reads.

    Waiting costs one bare future per event: with 1,000 clients every event wakes 1,000
    waiters, and an ``asyncio.Event`` plus a timeout per wait measured 40% of the web
    process's CPU in ``bench/sse_fanout.py``. Code that must look up now and then while no
    event comes (say, to check that the job still exists) arms one timer of its own that calls
    :meth:`interrupt`, rather than passing a timeout to every :meth:`get`.
    """

    def __init__(self, fanout: EventFanout, org: str, job_id: str, after: str, maxsize: int) -> None:
        self._fanout = fanout
        self.org = org
        self.job_id = job_id
        self.key = keys.job_events(org, job_id)
        self._last = _id_key(after)
        self._after = after
        self._maxsize = maxsize
        self._queue: collections.deque[StreamEvent] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._interrupted = False
        self._gap: str | None = None  # reader cursor at registration, if ahead of ``after``
        self.dropped = False
        self.closed = False

    # ---- called by the reader (synchronously, on the event loop) -------------------------

    def _push(self, item: StreamEvent) -> None:
        if self.closed:
            return
        if len(self._queue) >= self._maxsize:
            self.dropped = True
            self._fanout._drop(self)
            return
        self._queue.append(item)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self) -> None:
        self.closed = True
        self._wake()

    # ---- called by the client --------------------------------------------------------------

    async def get(self, timeout: float | None = None) -> StreamEvent | None:  # noqa: ASYNC109
        """The next event; ``None`` when the subscription has ended, ``timeout`` elapsed or
        :meth:`interrupt` was called while no event was queued.

        Check :attr:`closed` to tell them apart.
        """
        while True:
            while self._queue:
                item = self._queue.popleft()
                if item.order <= self._last:
                    continue  # already delivered from the backlog
                self._last = item.order
                if item.terminal:
                    self.close()
                    self._queue.clear()
                return item
            if self.closed:
                return None
            if self._interrupted:
                self._interrupted = False
                return None
            self._waiter = waiter = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await waiter
                else:
                    async with asyncio.timeout(timeout):
                        await waiter
            except TimeoutError:
                return None
            finally:
                self._waiter = None

    def interrupt(self) -> None:
        """Make the pending :meth:`get` (or the next, if none is pending) return ``None`` once
        no event is queued; the subscription itself goes on. Safe to call from a loop timer."""
        self._interrupted = True
        self._wake()

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        while (item := await self.get()) is not None:
            yield item

    async def _fill_gap(self, redis: aioredis.Redis, page: int) -> None:
        """Read the entries the reader dispatched before this subscription registered."""
        if self._gap is None:
            return
        start = self._after
        upper = _id_key(self._gap)
        backlog: list[StreamEvent] = []
        while True:
            events = await read_range(redis, self.key, self.job_id, start, self._gap, count=page)
            backlog.extend(StreamEvent.of(event) for event in events)
            if len(events) < page:
                break
            start = backlog[-1].id
            if _id_key(start) >= upper:
                break
        self._queue.extendleft(reversed(backlog))
        if backlog:
            self._wake()

    def close(self) -> None:
        """Stop receiving events (idempotent)."""
        if not self.closed:
            self.closed = True
            self._fanout._remove(self)
        self._wake()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class _Stream:
    __slots__ = ("cursor", "job_id", "subscribers")

    def __init__(self, job_id: str, cursor: str) -> None:
        self.job_id = job_id
        self.cursor = cursor
        self.subscribers: set[Subscription] = set()


class EventFanout:
    """The per-process reader. Create one per Redis and share it between every SSE route.

    ``redis`` is the shared client (pool) used for short commands: backlog ``XRANGE`` and
    wake-ups. The blocking ``XREAD`` runs on one extra connection the fan-out opens itself with
    the same connection settings, named ``acquire-sse-fanout`` in ``CLIENT LIST``. The reader
    starts with the first subscription; call :meth:`aclose` at shutdown.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        queue_size: int = 256,
        block_ms: int = 5000,
        count: int = 500,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if block_ms < 1:
            raise ValueError("block_ms must be at least 1")
        self._redis = redis
        self.queue_size = queue_size
        self.block_ms = block_ms
        self.count = count
        self._streams: dict[str, _Stream] = {}
        self._wake_key = keys.sse_wake(secrets.token_hex(8))
        self._wake_cursor = "0"
        self._woken = False
        self._reader: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._reads = self._events = self._dropped = 0
        self._closing = False

    # ---- subscribing -----------------------------------------------------------------------

    async def subscribe(self, org: str, job_id: str, after: str = "0") -> Subscription:
        """Follow job ``job_id`` of ``org`` from (exclusive) stream id ``after``.

        The caller has checked that the job exists and belongs to ``org``.
        """
        self._ensure_running()
        sub = Subscription(self, org, job_id, after, self.queue_size)
        stream = self._streams.get(sub.key)
        is_new = stream is None
        if stream is None:
            stream = self._streams[sub.key] = _Stream(job_id, after)
        elif _id_key(stream.cursor) > _id_key(after):
            sub._gap = stream.cursor
        stream.subscribers.add(sub)
        try:
            if is_new:
                await self._wake()
            await sub._fill_gap(self._redis, self.count)
        except BaseException:
            sub.close()
            raise
        return sub

    def _remove(self, sub: Subscription) -> None:
        stream = self._streams.get(sub.key)
        if stream is None:
            return
        stream.subscribers.discard(sub)
        if not stream.subscribers:
            # The XREAD in flight may still return entries for it; they are simply ignored.
            del self._streams[sub.key]

    def _drop(self, sub: Subscription) -> None:
        self._dropped += 1
        log.info("dropping a slow SSE client of job %s (queue full)", sub.job_id)
        sub._end()
        self._remove(sub)

    async def _wake(self) -> None:
        if self._woken:  # one wake-up entry is enough until the reader has seen it
            return
        self._woken = True
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=16, approximate=True)
                pipe.expire(self._wake_key, _WAKE_TTL)
                await pipe.execute()
        except BaseException:
            # The entry may never have reached Redis (e.g. it was restarting). Left set, the flag
            # would skip every later wake-up, since only the reader seeing an entry clears it: each
            # newly followed job would then wait out a whole BLOCK before its first event.
            self._woken = False
            raise

    # ---- the reader ------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._closing:
            raise RuntimeError("the event fan-out is closed")
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="acquire-sse-fanout")

    def _open_reader(self) -> aioredis.Redis:
        pool = self._redis.connection_pool
        kwargs: dict[str, Any] = dict(pool.connection_kwargs)
        # The blocking read must outlive its BLOCK timeout; a dead socket is still noticed.
        kwargs["socket_timeout"] = self.block_ms / 1000 + 10
        kwargs["client_name"] = _READER_NAME
        kwargs.pop("single_connection_client", None)
        reader_pool = aioredis.ConnectionPool(
            connection_class=pool.connection_class, max_connections=1, **kwargs
        )
        return aioredis.Redis(connection_pool=reader_pool)

    async def _run(self) -> None:
        self._reader = self._open_reader()
        delay = _ERROR_BACKOFF[0]
        try:
            while not self._closing:
                try:
                    await self._read_once()
                    delay = _ERROR_BACKOFF[0]
                except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
                    if self._closing:
                        break
                    # Cursors are ids, so nothing is lost: the next read resumes where this stopped.
                    log.warning("SSE fan-out read failed (%s); retrying in %.2f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _ERROR_BACKOFF[1])
        finally:
            reader, self._reader = self._reader, None
            await asyncio.shield(reader.aclose(close_connection_pool=True))

    async def _read_once(self) -> None:
        assert self._reader is not None
        streams: dict[Any, Any] = {self._wake_key: self._wake_cursor}
        for key, stream in self._streams.items():
            streams[key] = stream.cursor
        response = await self._reader.xread(streams, count=self.count, block=self.block_ms)
        self._reads += 1
        for raw_key, entries in response or ():
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            if key == self._wake_key:
                last = entries[-1][0]
                self._wake_cursor = last.decode() if isinstance(last, bytes) else last
                self._woken = False
                continue
            self._dispatch(key, entries)

    def _dispatch(self, key: str, entries: list[tuple[Any, Mapping[Any, Any]]]) -> None:
        stream = self._streams.get(key)
        if stream is None or not entries:
            return
        for entry_id, fields in entries:
            try:
                item = StreamEvent.of(decode_entry(stream.job_id, entry_id, fields))
            except (ValueError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
                # Not an event acquire wrote (another version, a hand-made entry): skipped, so
                # the one reader of every stream in the process goes on.
                raw = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                log.warning("skipped malformed event %s of job %s: %s", raw, stream.job_id, exc)
                stream.cursor = raw
                continue
            if item.order <= _id_key(stream.cursor):
                continue
            stream.cursor = item.id
            self._events += 1
            for sub in list(stream.subscribers):
                sub._push(item)

    # ---- lifecycle -------------------------------------------------------------------------

    def stats(self) -> FanoutStats:
        return FanoutStats(
            subscribers=sum(len(s.subscribers) for s in self._streams.values()),
            streams=len(self._streams),
            reads=self._reads,
            events_read=self._events,
            dropped=self._dropped,
            reader_connections=self._reader_connections(),
        )

    def _reader_connections(self) -> int:
        if self._reader is None:
            return 0
        pool = self._reader.connection_pool
        return len(getattr(pool, "_available_connections", ())) + len(
            getattr(pool, "_in_use_connections", ())
        )

    async def aclose(self) -> None:
        """Stop the reader and end every subscription (their SSE streams close)."""
        self._closing = True
        task, self._task = self._task, None
        for stream in list(self._streams.values()):
            for sub in list(stream.subscribers):
                sub._end()
        self._streams.clear()
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if not done and self._reader is not None:
            # redis-py can swallow a cancellation that lands inside a blocking read; closing
            # the socket under it ends the read for sure, and the loop sees it is closing.
            await self._reader.connection_pool.disconnect(inuse_connections=True)
            await asyncio.wait({task}, timeout=5.0)
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("SSE fan-out reader ended with %r", task.exception())
