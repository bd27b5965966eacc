"""Putting a job on arq's queue, and waking idle workers: a per-queue list that enqueuers push
to and idle workers block on.

An idle acquire worker does not poll its queue; it blocks on ``BLPOP`` of the queue's wake
key (:func:`acquire.store.keys.queue_wake`) and reads the queue when something arrives there
(:mod:`acquire.runtime.arq_patches`). Whatever puts a job on a queue therefore also pushes a
token: the client's submit (in its enqueue script), item jobs, webhooks, and a retry that arq
schedules for later. One token is enough to wake a worker, so the list is kept to one entry (it
never grows while no worker runs), and the worker's BLPOP takes it: a race of two pushers can
leave a second one, which at worst wakes a worker once more for nothing.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from arq.constants import job_key_prefix, result_key_prefix

from acquire import serialization
from acquire.store import keys

__all__ = ["QueueEntry", "wake_workers"]


class QueueEntry(NamedTuple):
    """An arq job as arq's ``enqueue_job`` writes it, for a script that writes it itself."""

    queue: str
    arq_id: str
    #: arq's job record (``serialize_job``), serialised with acquire's JSON serializer.
    record: bytes
    #: When the job is due (ms since 1970), and how long arq's job key lives (ms).
    score_ms: int
    expires_ms: int

    @classmethod
    def now(
        cls, queue: str, arq_id: str, function: str, payload: Any, *, expires_extra_ms: int
    ) -> QueueEntry:
        """An entry due now, with arq's expiry (``expires_extra_ms`` past its due time)."""
        now_ms = int(time.time() * 1000)
        record = serialization.serialize({"t": None, "f": function, "a": [payload], "k": {}, "et": now_ms})
        return cls(queue, arq_id, record, now_ms, expires_extra_ms)

    def keys(self) -> list[str]:
        """arq's job key, result key and queue, and the queue's wake list."""
        return [
            job_key_prefix + self.arq_id,
            result_key_prefix + self.arq_id,
            self.queue,
            keys.queue_wake(self.queue),
        ]


async def wake_workers(redis: aioredis.Redis, queue: str) -> None:
    """Wake one idle worker of ``queue`` (it reads the queue and passes the wake on if busy)."""
    key = keys.queue_wake(queue)
    pipe: Any
    async with redis.pipeline(transaction=False) as pipe:
        pipe.lpush(key, 1)
        pipe.ltrim(key, 0, 0)
        await pipe.execute()
