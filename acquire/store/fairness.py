"""Fair scheduling across orgs: a per-org admission gate in front of arq's queue.

arq's queue is one FIFO. Without a gate, an org that spreads two jobs of 500 companies puts
1,000 item jobs in front of every other org's work. With it, each org has at most
``ACQUIRE_ORG_MAX_INFLIGHT_ITEMS`` item jobs on the queue (waiting there or running); the rest
wait in the org's own backlog (``keys.org_backlog``), and each item job that ends lets the
org's next one in, at the back of the queue. So the orgs' item jobs interleave, and a small
job of one org waits behind at most that many item jobs of each other org, whatever their
backlogs. An org alone still gets its items run back to back.

Everything is one Lua script (:data:`_FEED`), run when a job spreads (its items join the
backlog and the first ones enter the queue), when an item job ends (it leaves, the next
enters) and by the reconciler's cron (:meth:`FairGate.feed_all`, for a release lost to a
Redis outage). It writes arq's queue entries itself, exactly as ``ArqRedis.enqueue_job``
does (the job key with arq's serialised job, then the queue zset), skipping ids that arq
already has or has finished. In-flight entries whose arq job key is gone (finished, or
failed by arq itself) are forgotten on the next run, so the gate never leaks slots.

``ACQUIRE_ORG_MAX_QUEUED_ITEMS`` bounds an org's backlog: :meth:`FairGate.check_room` (called
by :meth:`acquire.client.AcquireClient.submit`) refuses a job that would overflow it with
:class:`~acquire.errors.OrgQueueFullError` (HTTP 429 from the router).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

from acquire import serialization
from acquire.errors import OrgQueueFullError
from acquire.settings import Settings
from acquire.store import keys

__all__ = ["FairGate", "Room"]

# KEYS: backlog, in-flight, queue, backlogged orgs, backlog count per job | ARGV: cap, arq job
# ttl ms, org, arq job prefix, arq result prefix, released arq id ('' for none), backlog ttl
# ms, entries to append ("<arq id> <serialised arq job>")...
# Returns the number of entries that entered the queue.
_FEED = """
local cap = tonumber(ARGV[1])
if ARGV[6] ~= '' then redis.call('ZREM', KEYS[2], ARGV[6]) end
if #ARGV > 7 then
  for i = 8, #ARGV do
    redis.call('RPUSH', KEYS[1], ARGV[i])
    redis.call('HINCRBY', KEYS[5], string.match(ARGV[i], '^(.-)%.%d+ '), 1)
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
  redis.call('PEXPIRE', KEYS[5], ARGV[7])
  redis.call('SADD', KEYS[4], ARGV[3])
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[4] .. id) == 0 then redis.call('ZREM', KEYS[2], id) end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fed = 0
while redis.call('ZCARD', KEYS[2]) < cap do
  local entry = redis.call('LPOP', KEYS[1])
  if not entry then break end
  local space = string.find(entry, ' ', 1, true)
  local id = string.sub(entry, 1, space - 1)
  local job = string.match(id, '^(.-)%.%d+$')
  if redis.call('HINCRBY', KEYS[5], job, -1) <= 0 then redis.call('HDEL', KEYS[5], job) end
  if redis.call('EXISTS', ARGV[4] .. id) == 0 and redis.call('EXISTS', ARGV[5] .. id) == 0 then
    redis.call('SET', ARGV[4] .. id, string.sub(entry, space + 1), 'PX', ARGV[2])
    redis.call('ZADD', KEYS[3], now, id)
    redis.call('ZADD', KEYS[2], now, id)
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    fed = fed + 1
  end
end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[4], ARGV[3]) end
return fed
"""

#: Entries appended per script call (Lua's argument list stays small).
_CHUNK = 500


class Room(NamedTuple):
    """An org's backlog, the items a job would add to it, and how many may wait there."""

    backlog: str
    items: int
    limit: int


class FairGate:
    """The per-org admission gate of one queue's item jobs (see the module docstring)."""

    def __init__(self, redis: Any, settings: Settings) -> None:
        self._redis = redis
        self._cap = settings.acquire_org_max_inflight_items
        self._max_queued = settings.acquire_org_max_queued_items
        self._backlog_ttl_ms = settings.acquire_result_ttl * 1000
        self._feed = redis.register_script(_FEED)

    @property
    def enabled(self) -> bool:
        """Whether item jobs go through the gate (``ACQUIRE_ORG_MAX_INFLIGHT_ITEMS`` > 0)."""
        return self._cap > 0

    async def spread(self, org: str, queue: str, jobs: Sequence[tuple[str, str, dict[str, Any]]]) -> int:
        """Append ``(arq job id, function, payload)`` item jobs to the org's backlog and let in
        as many as the org's share allows; returns how many entered the queue now.

        Item arq ids are ``{job id}.{index}``: the backlog counts its entries per job, which
        the reconciler reads (:meth:`waiting_items`) so it never takes them for lost."""
        now_ms = int(time.time() * 1000)
        entries = [
            f"{arq_id} ".encode()
            + serialize_job(function, (payload,), {}, None, now_ms, serializer=serialization.serialize)
            for arq_id, function, payload in jobs
        ]
        fed = 0
        for start in range(0, len(entries), _CHUNK):
            fed += await self._run(org, queue, "", entries[start : start + _CHUNK])
        return fed

    async def release(self, org: str, queue: str, arq_id: str) -> int:
        """Item job ``arq_id`` has ended: it leaves the org's share and the next one enters."""
        return await self._run(org, queue, arq_id, [])

    async def feed_all(self, queue: str) -> int:
        """Let in what every backlogged org's share allows (the reconciler runs it)."""
        fed = 0
        for raw in await self._redis.smembers(keys.backlogged_orgs(queue)):
            org = raw.decode() if isinstance(raw, bytes) else str(raw)
            try:
                fed += await self._run(org, queue, "", [])
            except ValueError:  # not an org id acquire would write: leave it alone
                continue
        return fed

    async def queued(self, org: str, queue: str) -> int:
        """Item jobs of ``org`` waiting in its backlog for ``queue``."""
        return int(await self._redis.llen(keys.org_backlog(org, queue)))

    async def waiting_items(self, org: str, queue: str, job_id: str) -> int:
        """Item jobs of job ``job_id`` still in the org's backlog (not yet known to arq)."""
        return int(await self._redis.hget(keys.org_backlog_jobs(org, queue), job_id) or 0)

    async def check_room(self, org: str, queue: str, items: int) -> None:
        """Raise :class:`OrgQueueFullError` if ``items`` more would overflow the org's backlog."""
        waiting = await self.queued(org, queue)
        if waiting + items > self._max_queued:
            raise self.full_error(org, waiting, items)

    def room(self, org: str, queue: str, items: int) -> Room:
        """What a script checks, as :meth:`check_room` does, before it enqueues a job of ``items``."""
        return Room(keys.org_backlog(org, queue), items, self._max_queued)

    def full_error(self, org: str, waiting: int, items: int) -> OrgQueueFullError:
        """The error of a job of ``items`` refused while ``waiting`` items of ``org`` wait."""
        return OrgQueueFullError(
            f"organisation {org!r} has {waiting} items waiting and this job adds {items}; "
            f"at most {self._max_queued} may wait (ACQUIRE_ORG_MAX_QUEUED_ITEMS): "
            "submit it again once some have run",
            retry_after=30,
        )

    async def _run(self, org: str, queue: str, released: str, entries: Sequence[bytes]) -> int:
        fed = await self._feed(
            keys=[
                keys.org_backlog(org, queue),
                keys.org_in_flight(org, queue),
                queue,
                keys.backlogged_orgs(queue),
                keys.org_backlog_jobs(org, queue),
            ],
            args=[
                self._cap,
                expires_extra_ms,
                org,
                job_key_prefix,
                result_key_prefix,
                released,
                self._backlog_ttl_ms,
                *entries,
            ],
        )
        return int(fed)
