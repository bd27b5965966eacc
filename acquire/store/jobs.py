"""The Redis result store: org-namespaced status records, items, results and events.

Every write that changes a job's state also appends the event that reports it, in one Lua
script, so a reader never sees a status without its event or the other way round. Scripts
also make writes idempotent: a final status is never overwritten (a job delivered twice after
a worker crash cannot flip ``completed`` back to ``running``), an item counts once however
often it is reported, and an event with a dedupe token is appended once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import redis.asyncio as aioredis
from arq.constants import job_key_prefix, result_key_prefix
from pydantic import BaseModel
from redis.commands.core import AsyncScript

from acquire.errors import JobNotFinishedError, JobNotFoundError
from acquire.models import EventType, ItemState, ItemStatus, JobState, JobStatus, expand_request
from acquire.serialization import dumps
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.events import encode_event
from acquire.store.fairness import Room
from acquire.store.lua import fill
from acquire.store.transition import (
    FINALS_LUA,
    JSON_FIELDS,
    SHORT_VALUE_MAX,
    Transition,
    encode_fields,
    encode_transition,
    transition_script,
)
from acquire.store.wake import QueueEntry

__all__ = ["ItemCounts", "JobStore", "StoredResult"]

#: A job's result as the runtime hands it over: a result model (stored as its JSON) or a mapping.
StoredResult = BaseModel | Mapping[str, Any]

_ACTIVE = keys.active()

# KEYS: status, events, org index, idem, arq's queue, the org's backlog ('' each for none) |
# ARGV: created (µs), job id (also arq's job id), active member, created_at (the job_queued
# event's at too) and the event's data, arq's job record ('' for none), its score and expiry
# (ms), the request for the text hash ('' when short: it is among the fields), the job's items
# and the backlog's limit, then the status's other field/value pairs (its state is queued).
# The ttl, the index size and the keys built from the job id or the queue (arq's job and
# result keys, the wake list, the text hash) are in the script's text (one script per store).
# The arq part is what arq's enqueue_job does (refuse an id in use, PSETEX the record, ZADD the
# queue) plus the wake token (one is enough: none is added while one waits). An id in use with
# this job's status record present is this same call run again by redis-py after a lost
# reply: done. Without it, arq has the id: refused ('!'). A backlog too full for the job's
# items refuses it too ('#' and how many items wait).
# Scores are integers (the org index in µs, the active set in seconds: the µs text without its
# last six digits): a small sorted set is a ziplist, whose insert reads every score before it,
# and Redis parses a fractional one with strtod each time, an integer not at all. Numbers the
# script passes on are text (Redis formats a Lua number with snprintf).
_CREATE = """
if KEYS[4] ~= '' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return existing end
end
if KEYS[6] ~= '' then
  local waiting = redis.call('LLEN', KEYS[6])
  if waiting + tonumber(ARGV[10]) > tonumber(ARGV[11]) then return '#' .. waiting end
end
if ARGV[6] ~= '' then
  local job = '@ARQ_JOB@' .. ARGV[2]
  if redis.call('EXISTS', job, '@ARQ_RESULT@' .. ARGV[2]) > 0 then
    if redis.call('EXISTS', KEYS[1]) == 1 then return '' end
    return '!'
  end
  redis.call('PSETEX', job, ARGV[8], ARGV[6])
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[2])
  local wake = '@WAKE@' .. KEYS[5]
  if redis.call('EXISTS', wake) == 0 then redis.call('LPUSH', wake, '1') end
end
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[2], 'EX', '@TTL@') end
redis.call('HSET', KEYS[1], 'state', '@STATE@', 'created_at', ARGV[4], unpack(ARGV, 12))
if ARGV[9] ~= '' then
  local text = KEYS[1] .. '@TEXT@'
  redis.call('HSET', text, 'request', ARGV[9])
  redis.call('EXPIRE', text, '@TTL@')
end
redis.call('ZADD', '@ACTIVE@', string.sub(ARGV[1], 1, -7), ARGV[3])
redis.call('XADD', KEYS[2], '*', 'event', '@QUEUED@', 'at', ARGV[4], 'data', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[3], '0', '@INDEX_END@')  -- keeps the newest INDEX_MAX
redis.call('EXPIRE', KEYS[1], '@TTL@')
redis.call('EXPIRE', KEYS[2], '@TTL@')
redis.call('EXPIRE', KEYS[3], '@TTL@')
return ''
"""


def _create_script(ttl: int, index_max: int) -> str:
    return fill(
        _CREATE,
        {
            "ARQ_JOB": job_key_prefix,
            "ARQ_RESULT": result_key_prefix,
            "WAKE": keys.queue_wake(""),
            "TEXT": keys.SCRIPT_SUFFIXES["text"],
            "ACTIVE": keys.active(),
            "QUEUED": EventType.JOB_QUEUED.value,
            "STATE": JobState.QUEUED.value,
            "TTL": int(ttl),
            "INDEX_END": -int(index_max) - 1,
        },
    )


# KEYS: status, items, events | ARGV: ttl, maxlen, item key, item json, item state, event json or ''
# Returns {done, failed, total, counted}: counted = 1 when this call moved the item to final.
# Nothing is written once the item or the job is final: a leftover item job of a job that
# already failed must not add an item, an event after the final one, or a count.
_ITEM = """
local job_state = redis.call('HGET', KEYS[1], 'state')
if not job_state then return {-1, -1, -1, 0} end
local job_finals = JOB_FINALS
local finals = {completed = true, failed = true, not_found = true}
local old = redis.call('HGET', KEYS[2], ARGV[3])
local was_final = false
if old then was_final = finals[cjson.decode(old).state] == true end
if was_final or job_finals[job_state] then
  return {tonumber(redis.call('HGET', KEYS[1], 'items_done') or '0'),
          tonumber(redis.call('HGET', KEYS[1], 'items_failed') or '0'),
          tonumber(redis.call('HGET', KEYS[1], 'items_total') or '0'), 0}
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[1])
local counted = 0
if ARGV[5] == 'completed' then
  redis.call('HINCRBY', KEYS[1], 'items_done', '1'); counted = 1
elseif finals[ARGV[5]] then
  redis.call('HINCRBY', KEYS[1], 'items_failed', '1'); counted = 1
end
local done = tonumber(redis.call('HGET', KEYS[1], 'items_done') or '0')
local failed = tonumber(redis.call('HGET', KEYS[1], 'items_failed') or '0')
local total = tonumber(redis.call('HGET', KEYS[1], 'items_total') or '0')
if total > 0 and counted == 1 then
  local state = redis.call('HGET', KEYS[1], 'state')
  if state == 'running' or state == 'queued' or state == 'retrying' then
    redis.call('HSET', KEYS[1], 'progress', math.floor(100 * (done + failed) / total))
  end
end
if ARGV[6] ~= '' and counted == 1 then
  local ev = cjson.decode(ARGV[6])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'event', ev.event, 'at', ev.at, 'data', ev.data)
end
return {done, failed, total, counted}
""".replace("JOB_FINALS", FINALS_LUA)


def _micros(when: datetime) -> int:
    """``when`` as integer microseconds since 1970 (a sorted set's score, see ``_CREATE``)."""
    return round(when.timestamp() * 1_000_000)


def _result_json(result: StoredResult | None) -> str:
    if result is None:
        return ""
    return result.model_dump_json() if isinstance(result, BaseModel) else dumps(result)


class ItemCounts:
    """Item counters of a job after an item update."""

    __slots__ = ("counted", "done", "failed", "total")

    def __init__(self, done: int, failed: int, total: int, *, counted: bool) -> None:
        self.done, self.failed, self.total, self.counted = done, failed, total, counted

    @property
    def all_final(self) -> bool:
        return self.total > 0 and self.done + self.failed >= self.total


def _decode_status(
    org: str, job_id: str, raw: Mapping[bytes, bytes], text: Mapping[bytes, bytes]
) -> JobStatus:
    # Records written before the text hash existed hold every field in the status hash, and
    # older records hold the org and the job id too (the same as the key's).
    values: dict[str, Any] = {"org": org, "job_id": job_id}
    values.update((k.decode(), v.decode()) for k, v in raw.items())
    values.update((k.decode(), v.decode()) for k, v in text.items())
    values.pop("text", None)
    for name in JSON_FIELDS:
        if name in values:
            values[name] = json.loads(values[name])
    if "request" in values:
        values["request"] = expand_request(values["request"])
    return JobStatus.model_validate(values)


class JobStore:
    """Reads and writes job records. Every read takes the caller's org: there is no way to
    read a job without naming the org it belongs to, so one tenant cannot see another's."""

    def __init__(
        self, redis: aioredis.Redis, *, ttl: int = 3600, events_maxlen: int = 2000, index_max: int = 1000
    ) -> None:
        self.redis = redis
        self.ttl = ttl
        self.events_maxlen = events_maxlen
        self.index_max = index_max
        self._create = redis.register_script(_create_script(ttl, index_max))
        self._transition = redis.register_script(transition_script(ttl, events_maxlen))
        self._item = redis.register_script(_ITEM)
        self._preluded: dict[str, AsyncScript] = {}

    @classmethod
    def from_settings(cls, redis: aioredis.Redis, settings: Settings) -> JobStore:
        """A store with the TTL, stream length and index size of ``settings``."""
        return cls(
            redis,
            ttl=settings.acquire_result_ttl,
            events_maxlen=settings.acquire_events_maxlen,
            index_max=settings.acquire_jobs_index_max,
        )

    # ---- writes --------------------------------------------------------------------------

    async def create(
        self,
        status: JobStatus,
        *,
        idempotency_key: str | None = None,
        enqueue: QueueEntry | None = None,
        room: Room | None = None,
    ) -> str:
        """Store a new ``queued`` job and its ``job_queued`` event; with ``enqueue``, put the
        arq job on its queue and wake a worker in the same script (one command in all).

        Returns the job id: the given one, or the id of the job already created with the same
        idempotency key (then nothing is written or enqueued); ``""`` when arq already has a job
        or result with the entry's id (nothing is written). With ``room``, a job whose items
        would overflow the org's backlog is refused: ``"#"`` and the number of items waiting.
        """
        org, job_id = status.org, status.job_id
        # Fields at their defaults (zero counters, no summary yet) are left out: a reader gets
        # the same record, and the hash stays small; so are the org and the id, which every
        # reader knows from the key. A long request goes to the text hash.
        record = status.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        if record.pop("state") != JobState.QUEUED.value:
            raise ValueError("a job is created queued")
        created_at = record.pop("created_at")
        del record["org"], record["job_id"]
        request = dumps(record.pop("request", None) or {})
        if len(request) <= SHORT_VALUE_MAX:
            record["request"], request = request, ""
        else:
            record["text"] = "1"  # the job has a text hash (acquire.store.transition)
        k = keys.job_keys(org, job_id)
        arq: list[Any] = ["", "", ""]
        queue = ""
        if enqueue is not None:
            if enqueue.arq_id != job_id:
                raise ValueError("a submitted job's arq id is its job id")
            queue = enqueue.queue
            arq = [enqueue.record, str(enqueue.score_ms), str(enqueue.expires_ms)]
        existing = await self._create(
            keys=[
                k.status,
                k.events,
                keys.org_jobs(org),
                keys.idempotency(org, idempotency_key) if idempotency_key else "",
                queue,
                room.backlog if room else "",
            ],
            args=[
                str(_micros(status.created_at)),
                job_id,
                k.active_member,
                created_at,
                dumps({"kind": status.kind.value}),
                *arq,
                request,
                str(room.items) if room else "0",
                str(room.limit) if room else "0",
                *encode_fields(record),
            ],
        )
        existing = existing.decode() if isinstance(existing, bytes) else existing
        if existing == "!":
            return ""
        if existing.startswith("#"):
            return existing
        return existing or job_id

    async def update_status(
        self,
        org: str,
        job_id: str,
        fields: Mapping[str, Any],
        *,
        event: EventType | None = None,
        data: Mapping[str, Any] | None = None,
        dedupe: str | None = None,
        force: bool = False,
        result: StoredResult | None = None,
    ) -> int:
        """Update status fields and append ``event``, unless the job is already final.

        Returns 1 when applied, 0 when refused because the job is final, -1 when the job
        does not exist (expired). ``dedupe`` appends the event only the first time;
        ``result`` is stored in the same step (so a reader of the final event finds it).
        """
        step = Transition(fields, event, data, dedupe)
        return await self.apply_transitions(org, job_id, [step], force=force, result=result)

    async def apply_transitions(
        self,
        org: str,
        job_id: str,
        steps: Sequence[Transition],
        *,
        force: bool = False,
        result: StoredResult | None = None,
    ) -> int:
        """Apply several transitions atomically, in order, in one round trip."""
        names, args = self._transition_call(org, job_id, steps, force=force, result=result)
        return int(await self._transition(keys=names, args=args))

    def prelude_script(self, prelude: str, args: int) -> AsyncScript:
        """:meth:`apply_transitions`'s script preceded by ``prelude`` (Lua), as one script.

        ``prelude`` uses ``KEYS`` from 3 on and its ``args`` arguments as ``ARGV[5]`` onwards
        (see :meth:`apply_transitions_with_prelude`), and runs first, whatever the transition
        then decides. One script per prelude text.
        """
        script = self._preluded.get(prelude)
        if script is None:
            text = transition_script(self.ttl, self.events_maxlen, prelude, args)
            script = self._preluded[prelude] = self.redis.register_script(text)
        return script

    async def apply_transitions_with_prelude(
        self,
        script: AsyncScript,
        org: str,
        job_id: str,
        steps: Sequence[Transition],
        *,
        result: StoredResult | None,
        prelude_keys: Sequence[str],
        prelude_args: Sequence[Any],
    ) -> int:
        """:meth:`apply_transitions` through a script from :meth:`prelude_script`, one command in all.

        Redis runs a script atomically, so the prelude's writes and the transition happen
        together; a Redis that forgot the script (a restart) gets it again and runs it once.
        """
        names, args = self._transition_call(
            org, job_id, steps, force=False, result=result, extra=prelude_args
        )
        return int(await script(keys=[*names, *prelude_keys], args=args))

    def _transition_call(
        self,
        org: str,
        job_id: str,
        steps: Sequence[Transition],
        *,
        force: bool,
        result: StoredResult | None,
        extra: Sequence[Any] = (),
    ) -> tuple[list[str], list[Any]]:
        k = keys.job_keys(org, job_id)
        state, encoded = encode_transition(steps)
        head = ["1" if force else "0", k.active_member, _result_json(result), state]
        return [k.status, k.events], [*head, *extra, *encoded]

    async def set_item(self, org: str, job_id: str, item: ItemStatus) -> ItemCounts:
        """Record an item's status; a final item emits ``item_completed``/``item_failed`` once.

        Refused (``counted`` false, nothing written) once the item or the job is final.
        """
        state = item.state
        event: EventType | None = None
        if state == ItemState.COMPLETED:
            event = EventType.ITEM_COMPLETED
        elif state in (ItemState.FAILED, ItemState.NOT_FOUND):
            event = EventType.ITEM_FAILED
        payload = {"item": item.key, "state": state.value}
        if item.error:
            payload["error"] = item.error
        encoded = dumps(encode_event(event, payload)) if event else ""
        k = keys.job_keys(org, job_id)
        done, failed, total, counted = await self._item(
            keys=[k.status, k.items, k.events],
            args=[self.ttl, self.events_maxlen, item.key, item.model_dump_json(), state.value, encoded],
        )
        if done < 0:
            raise JobNotFoundError(job_id)
        return ItemCounts(int(done), int(failed), int(total), counted=bool(counted))

    async def record_webhook(self, org: str, job_id: str, attempt: Mapping[str, Any]) -> None:
        key = keys.job_webhooks(org, job_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, dumps(attempt))
            pipe.ltrim(key, -100, -1)
            pipe.expire(key, self.ttl)
            await pipe.execute()

    async def delete(self, org: str, job_id: str, *, idempotency_key: str | None = None) -> None:
        """Remove every key of a job (used to undo a submission that failed half-way)."""
        k = keys.job_keys(org, job_id)
        names = [k.status, k.text, k.items, k.result, k.events, k.seen, keys.job_documents(org, job_id)]
        if idempotency_key:
            names.append(keys.idempotency(org, idempotency_key))
        await self.redis.delete(*names)
        await self.redis.zrem(keys.active(), keys.active_member(org, job_id))
        await self.redis.zrem(keys.org_jobs(org), job_id)

    # ---- reads ---------------------------------------------------------------------------

    async def job_state(self, org: str, job_id: str) -> JobState | None:
        """A job's state alone (one field read); ``None`` when the job does not exist."""
        raw = await cast(Awaitable[bytes | None], self.redis.hget(keys.job_status(org, job_id), "state"))
        return None if raw is None else JobState(raw.decode())

    async def get_status(self, org: str, job_id: str) -> JobStatus:
        (status,) = await self._read_statuses(org, [job_id])
        if status is None:
            raise JobNotFoundError(job_id)
        return status

    async def _read_statuses(self, org: str, job_ids: Sequence[str]) -> list[JobStatus | None]:
        """Status records in one round trip (``None`` for a missing one)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                k = keys.job_keys(org, job_id)
                pipe.hgetall(k.status)
                pipe.hgetall(k.text)
            replies: list[dict[bytes, bytes]] = await pipe.execute()
        return [
            _decode_status(org, job_id, raw, text) if raw else None
            for job_id, raw, text in zip(job_ids, replies[::2], replies[1::2], strict=True)
        ]

    async def get_items(self, org: str, job_id: str) -> list[ItemStatus]:
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(keys.job_items(org, job_id)))
        items = [ItemStatus.model_validate_json(v) for v in raw.values()]
        return sorted(items, key=lambda item: item.key)

    async def get_result(self, org: str, job_id: str) -> dict[str, Any]:
        """The stored result as plain JSON data; :class:`JobNotFinishedError` while the job runs."""
        _, body = await self.read_result(org, job_id)
        result: dict[str, Any] = json.loads(body) if body else {}
        return result

    async def read_result(self, org: str, job_id: str) -> tuple[JobStatus, bytes | None]:
        """The final status and the stored result's JSON (None when the job left none).

        :class:`JobNotFinishedError` while the job runs.
        """
        status = await self.get_status(org, job_id)
        if not status.state.final:
            raise JobNotFinishedError(f"job {job_id} is {status.state.value}")
        body: bytes | None = await self.redis.get(keys.job_result(org, job_id))
        return status, body

    async def get_webhooks(self, org: str, job_id: str) -> list[dict[str, Any]]:
        raw = await cast(Awaitable[list[bytes]], self.redis.lrange(keys.job_webhooks(org, job_id), 0, -1))
        return [json.loads(entry) for entry in raw]

    async def list_jobs(self, org: str, limit: int = 50) -> list[JobStatus]:
        """The org's most recent jobs, newest first (expired ones are skipped)."""
        ids = await self.redis.zrevrange(keys.org_jobs(org), 0, max(0, limit - 1))
        statuses = await self._read_statuses(org, [raw_id.decode() for raw_id in ids])
        return [status for status in statuses if status is not None]
