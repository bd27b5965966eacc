"""A job's status change (:class:`Transition`), and how a list of them reaches Redis.

The store applies transitions with one Lua script (:data:`TRANSITION_SCRIPT`): the status
fields, the events that report them and the result are written together, and a job that is
already final is never changed again. The arguments are encoded here: one flat JSON array,
cheaper to build on every job's hot path than JSON objects or more script arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from acquire.models import EventType, JobState
from acquire.serialization import dumps

__all__ = [
    "FINALS_LUA",
    "JSON_FIELDS",
    "TEXT_FIELDS",
    "TRANSITION_SCRIPT",
    "Transition",
    "encode_fields",
    "encode_steps",
]

#: Status fields stored as JSON text.
JSON_FIELDS = ("summary", "request")
#: Status fields of unbounded length, kept in the job's text hash (:func:`acquire.store.keys.job_text`).
TEXT_FIELDS = ("request", "summary", "error")
#: :data:`TEXT_FIELDS` as a Lua table literal.
TEXT_LUA = "{" + ", ".join(f"{name} = true" for name in TEXT_FIELDS) + "}"
#: The longest value Redis keeps in a hash's compact encoding by default (``hash-max-listpack-value``):
#: a text field up to this long stays in the status hash, a longer one goes to the text hash.
SHORT_VALUE_MAX = 64

#: A job's final states as a Lua table literal, e.g. ``{completed = true, failed = true, ...}``.
FINALS_LUA = "{" + ", ".join(f"{s.value} = true" for s in JobState if s.final) + "}"

# KEYS: status, events, seen, result, active, text | ARGV: payload json, result json or ''.
# The payload is one flat JSON array, cheaper to build on a job's hot path than objects or
# more arguments: ttl, events maxlen (both as text: Redis formats a Lua number argument with
# snprintf, several times the cost of the command), force (0/1), active member, then the steps, each being
# n, n field/value strings, event name ('' for none), at, data json, dedupe token ('' for none).
# A field of unbounded length (TEXT_FIELDS) longer than SHORT goes to the text hash, and leaves
# the status hash (and the other way round), so a reader finds it in one place only; the
# status field 'text' says that the job has a text hash (most have none: nothing to touch).
# A job that becomes final leaves the active set and its event stream is compacted.
# Returns 1 applied, 0 refused (already final), -1 missing.
TRANSITION_SCRIPT = (
    (
        """
local finals, long = FINALS, TEXTS
local s = cjson.decode(ARGV[1])
local ttl, maxlen, force, member = s[1], s[2], s[3], s[4]
local record = redis.call('HMGET', KEYS[1], 'state', 'text')
local state, has_text = record[1], record[2]
if not state then return -1 end
if force == 0 and finals[state] then return 0 end
local fields, texts, short, gone = {}, {}, {}, {}
local now = state
local i = 5
while i <= #s do
  local n = s[i]
  for j = i + 1, i + n, 2 do
    local name, value = s[j], s[j + 1]
    local into = fields
    if long[name] then
      if #value > SHORT then into = texts; gone[name] = true; short[name] = nil
      else short[name] = true; gone[name] = nil end
    end
    into[#into + 1] = name
    into[#into + 1] = value
    if name == 'state' then now = value end
  end
  i = i + n + 1
  local event, at, data, dedupe = s[i], s[i + 1], s[i + 2], s[i + 3]
  i = i + 4
  if event ~= '' then
    local fresh = 1
    if dedupe ~= '' then
      fresh = redis.call('SADD', KEYS[3], dedupe)
      redis.call('EXPIRE', KEYS[3], ttl)
    end
    if fresh == 1 then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', 'event', event, 'at', at, 'data', data)
    end
  end
end
-- One HSET for every step: a later step's value of a field wins, as if applied in turn.
if #texts > 0 then
  redis.call('HSET', KEYS[6], unpack(texts))
  fields[#fields + 1] = 'text'  -- the record has a text hash: the reader and this script look
  fields[#fields + 1] = '1'
  has_text = true
end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
for name in pairs(gone) do redis.call('HDEL', KEYS[1], name) end
if has_text then
  for name in pairs(short) do redis.call('HDEL', KEYS[6], name) end
  redis.call('EXPIRE', KEYS[6], ttl)
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[4], ARGV[2], 'EX', ttl) end
redis.call('EXPIRE', KEYS[1], ttl)
if finals[now] then
  redis.call('ZREM', KEYS[5], member)
  -- Compact the events: a stream's first node is allocated at 4 KB however few entries it
  -- holds; DUMP/RESTORE rebuilds it at its size. Same key, ids and entries, so a replay from
  -- any Last-Event-ID is unchanged, and readers blocked on the stream are still served.
  local events = redis.call('DUMP', KEYS[2])
  if events then redis.call('RESTORE', KEYS[2], ttl .. '000', events, 'REPLACE') end
else
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
"""
    )
    .replace("FINALS", FINALS_LUA)
    .replace("TEXTS", TEXT_LUA)
    .replace("SHORT", str(SHORT_VALUE_MAX))
)


class Transition(NamedTuple):
    """One status change: fields to set and, optionally, the event that reports it.

    ``at`` is when it happened (default: when it is written); a ``datetime`` field holding the
    same object is written with the same text as the event's ``at``.
    """

    fields: Mapping[str, Any]
    event: EventType | None = None
    data: Mapping[str, Any] | None = None
    dedupe: str | None = None
    at: datetime | None = None


def _append_fields(flat: list[Any], fields: Mapping[str, Any], at: datetime | None, at_text: str) -> int:
    """Append ``name, value`` strings for ``fields`` to ``flat``; returns how many it added.

    A datetime that is ``at`` is written as ``at_text`` (the event's time, formatted once).
    """
    count = len(flat)
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, str):  # a StrEnum is its value, for JSON too
            pass
        elif name in JSON_FIELDS:
            value = dumps(value) if value else "{}"
        elif type(value) is datetime:
            value = at_text if value is at else value.isoformat()
        else:
            value = str(value)
        flat.append(name)
        flat.append(value)
    return len(flat) - count


def encode_fields(fields: Mapping[str, Any]) -> list[str]:
    """``name, value, ...`` strings of a status record's fields (``None`` left out)."""
    flat: list[str] = []
    _append_fields(flat, fields, None, "")
    return flat


def encode_steps(header: list[Any], steps: Sequence[Transition]) -> str:
    """The script's payload: ``header`` (ttl, events maxlen, force, active member), then
    each step as its field count, field strings, event name, time, data and dedupe token.

    The steps are appended to ``header`` itself (the caller builds a fresh one per call).
    """
    flat = header
    for fields, event, data, dedupe, at in steps:
        when_text = (at or datetime.now(UTC)).isoformat()
        count_at = len(flat)
        flat.append(0)
        flat[count_at] = _append_fields(flat, fields, at, when_text)
        if event is None:
            flat += ("", "", "", dedupe or "")
        else:
            flat += (event, when_text, dumps(data) if data else "{}", dedupe or "")
    return dumps(flat)
