"""Progress events on one Redis Stream per job.

A stream, unlike pub/sub, keeps what was written: a reader that starts late, or reconnects
with the last id it saw, receives every event it missed. Ids are Redis Stream ids
(``<ms>-<seq>``), monotonic per job. Writes happen in :mod:`acquire.store.jobs`, atomically with
the status change they report; this module encodes entries and reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from acquire.events import JobEvent, parse_event
from acquire.models import EventType
from acquire.serialization import dumps
from acquire.store import keys

__all__ = ["EventReader", "decode_entry", "encode_event", "read_range", "valid_stream_id"]

_STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


_U64_MAX = 2**64 - 1  # both parts of a stream id are unsigned 64-bit; Redis refuses more


def valid_stream_id(value: str) -> bool:
    """Whether ``value`` is a well-formed stream id (e.g. a ``Last-Event-ID`` header)."""
    if value == "0":
        return True
    if not _STREAM_ID.fullmatch(value):
        return False
    ms, _, seq = value.partition("-")
    return int(ms) <= _U64_MAX and int(seq) <= _U64_MAX


def encode_event(event: EventType, data: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The stream entry fields for an event."""
    return {"event": event.value, "at": datetime.now(UTC).isoformat(), "data": dumps(data) if data else "{}"}


def decode_entry(job_id: str, entry_id: bytes | str, fields: Mapping[bytes | str, bytes | str]) -> JobEvent:
    """A stream entry as a :class:`JobEvent`."""

    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    values = {text(k): text(v) for k, v in fields.items()}
    return parse_event(
        {
            "id": text(entry_id),
            "event": values["event"],
            "job_id": job_id,
            "at": values["at"],
            "data": json.loads(values.get("data") or "{}"),
        }
    )


#: The largest stream id: nothing can follow it, and Redis refuses it as an exclusive start.
_LAST_STREAM_ID = f"{2**64 - 1}-{2**64 - 1}"


async def read_range(
    redis: aioredis.Redis, key: str, job_id: str, after: str, upto: str = "+", *, count: int = 500
) -> list[JobEvent]:
    """Up to ``count`` events of stream ``key`` with ids after ``after`` (``"0"``: from the
    start) and up to ``upto`` (inclusive); never blocks."""
    if after == _LAST_STREAM_ID:
        return []
    low = "-" if after == "0" else "(" + after
    entries = await redis.xrange(key, low, upto, count=count)
    return [decode_entry(job_id, entry_id, fields) for entry_id, fields in entries]


class EventReader:
    """Reads a job's events; used by the client, the CLI and the SSE router."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def read(
        self, org: str, job_id: str, after: str = "0", *, count: int = 500, block_ms: int | None = None
    ) -> list[JobEvent]:
        """Events with ids greater than ``after`` (``"0"``: from the start).

        With ``block_ms``, waits up to that long for the first new event.
        """
        key = keys.job_events(org, job_id)
        response = await self._redis.xread({key: after}, count=count, block=block_ms)
        if not response:
            return []
        _, entries = response[0]
        return [decode_entry(job_id, entry_id, fields) for entry_id, fields in entries]

    async def range(self, org: str, job_id: str, after: str = "0", *, count: int = 500) -> list[JobEvent]:
        """Up to ``count`` stored events after ``after`` (see :func:`read_range`); never blocks."""
        return await read_range(self._redis, keys.job_events(org, job_id), job_id, after, count=count)

    async def follow(
        self, org: str, job_id: str, after: str = "0", *, block_ms: int = 5000
    ) -> AsyncIterator[JobEvent]:
        """Every event after ``after``, then the live tail, ending after the terminal event.

        The caller decides how long to wait overall (e.g. ``asyncio.timeout``); a job whose
        status record expired ends the iteration.
        """
        status_key = keys.job_status(org, job_id)
        while True:
            events = await self.read(org, job_id, after, block_ms=block_ms)
            for event in events:
                yield event
                after = event.id
                if event.event.terminal:
                    return
            if not events and not await self._redis.exists(status_key):
                return
