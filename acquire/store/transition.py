"""A job's status change (:class:`Transition`), and how a list of them reaches Redis.

The store applies transitions with one Lua script (:func:`transition_script`): the status
fields, the events that report them and the result are written together, and a job that is
already final is never changed again. The arguments are encoded here, as the script's own
argument list: the steps' fields merged (a later step's value wins, as if applied in turn),
already split by where they are stored, then the events. Redis hands every argument to Lua
as a string at about the cost of one decoded JSON element, so the script decodes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from acquire.models import EventType, JobState
from acquire.serialization import dumps
from acquire.store import keys
from acquire.store.lua import fill

__all__ = [
    "FINALS_LUA",
    "JSON_FIELDS",
    "TEXT_FIELDS",
    "Transition",
    "encode_fields",
    "encode_transition",
    "transition_script",
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

# KEYS: status, events (a prelude's keys follow). The job's other keys are the status key and
# a suffix (keys.SCRIPT_SUFFIXES), built here when a call touches them; the ttl, the events'
# maxlen and the active set are in the script's text (one script per store).
# ARGV: force ('0'/'1'), active member, result json ('' for none), the state the steps end in
# ('' when they set none), a prelude's arguments (ARGV[5] on), then from FIRST: n, n/2
# field/value pairs for the status hash, m, m/2 pairs for the text hash (TEXT_FIELDS longer
# than SHORT: a reader finds a field in one place only, so each leaves the other hash), then
# event name, at, data json and dedupe token ('' for none) for each event, in order.
# The status field 'text' says that the job has a text hash (most have none: nothing to touch).
# A job that becomes final leaves the active set and its event stream is compacted.
# Returns 1 applied, 0 refused (already final), -1 missing; a prelude runs before it all.
_TRANSITION = """
local applied = 1
repeat
local finals, base = @FINALS@, KEYS[1]
local record = redis.call('HMGET', base, 'state', 'text')
local state, has_text = record[1], record[2]
if not state then applied = -1; break end
if ARGV[1] == '0' and finals[state] then applied = 0; break end
local now = ARGV[4]
if now == '' then now = state end
local final = finals[now]
local f = @FIRST@
local short_end = f + tonumber(ARGV[f])
local long_end = short_end + 1 + tonumber(ARGV[short_end + 1])
for i = long_end + 1, #ARGV, 4 do
  local fresh = 1
  if ARGV[i + 3] ~= '' then
    local seen = base .. '@SEEN@'
    fresh = redis.call('SADD', seen, ARGV[i + 3])
    redis.call('EXPIRE', seen, '@TTL@')
  end
  if fresh ~= 1 then
  elseif final then  -- the stream's last entries: the trim can wait for no later one
    redis.call('XADD', KEYS[2], '*', 'event', ARGV[i], 'at', ARGV[i + 1], 'data', ARGV[i + 2])
  else
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', '@MAXLEN@', '*',
               'event', ARGV[i], 'at', ARGV[i + 1], 'data', ARGV[i + 2])
  end
end
local text = base .. '@TEXT@'
if long_end > short_end + 1 then
  redis.call('HSET', text, unpack(ARGV, short_end + 2, long_end))
  local names = {}
  for i = short_end + 2, long_end, 2 do names[#names + 1] = ARGV[i] end
  redis.call('HSET', base, 'text', '1')  -- the record has a text hash: the reader and this script look
  redis.call('HDEL', base, unpack(names))
  has_text = true
end
if short_end > f then redis.call('HSET', base, unpack(ARGV, f + 1, short_end)) end
if has_text then
  local long, names = @TEXTS@, {}
  for i = f + 1, short_end, 2 do
    if long[ARGV[i]] then names[#names + 1] = ARGV[i] end
  end
  if #names > 0 then redis.call('HDEL', text, unpack(names)) end
  redis.call('EXPIRE', text, '@TTL@')
end
if ARGV[3] ~= '' then redis.call('SET', base .. '@RESULT@', ARGV[3], 'EX', '@TTL@') end
redis.call('EXPIRE', base, '@TTL@')
if final then
  redis.call('ZREM', '@ACTIVE@', ARGV[2])
  -- Compact the events: a stream's first node is allocated at 4 KB however few entries it
  -- holds; COPY rebuilds each node at its size, and the copy takes the stream's key back
  -- (about half the work of a DUMP/RESTORE, which a Redis without COPY, before 6.2, still
  -- does). Same key, ids and entries, so a replay from any Last-Event-ID is unchanged, and
  -- readers blocked on the stream are still served (a key renamed onto counts as written).
  local copy = KEYS[2] .. ':copy'
  local copied = redis.pcall('COPY', KEYS[2], copy, 'REPLACE')
  if copied == 1 then
    redis.call('RENAME', copy, KEYS[2])
    redis.call('EXPIRE', KEYS[2], '@TTL@')
  elseif type(copied) == 'table' then
    local events = redis.call('DUMP', KEYS[2])
    if events then redis.call('RESTORE', KEYS[2], '@TTL@000', events, 'REPLACE') end
  end
else
  redis.call('EXPIRE', KEYS[2], '@TTL@')
end
until true
return applied
"""
#: Where the steps' arguments begin without a prelude (see :func:`transition_script`).
FIRST = 5


def transition_script(ttl: int, maxlen: int, prelude: str = "", prelude_args: int = 0) -> str:
    """The transition script of a store with ``ttl`` and events ``maxlen``, after ``prelude``
    (Lua using ``KEYS`` from 3 and its ``prelude_args`` arguments from ``ARGV[5]`` on)."""
    body = fill(
        _TRANSITION,
        {
            **{name.upper(): suffix for name, suffix in keys.SCRIPT_SUFFIXES.items()},
            "FINALS": FINALS_LUA,
            "TEXTS": TEXT_LUA,
            "FIRST": FIRST + prelude_args,
            "TTL": int(ttl),
            "MAXLEN": int(maxlen),
            "ACTIVE": keys.active(),
        },
    )
    return prelude + body


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


def _text(name: str, value: Any, at: datetime | None, at_text: str) -> str:
    """A field's value as the status hash stores it (a datetime that is ``at`` as ``at_text``)."""
    if isinstance(value, str):  # a StrEnum is its value, for JSON too
        return value
    if name in JSON_FIELDS:
        return dumps(value) if value else "{}"
    if type(value) is datetime:
        return at_text if value is at else value.isoformat()
    return str(value)


def encode_fields(fields: Mapping[str, Any]) -> list[str]:
    """``name, value, ...`` strings of a status record's fields (``None`` left out)."""
    flat: list[str] = []
    for name, value in fields.items():
        if value is not None:
            flat += (name, _text(name, value, None, ""))
    return flat


def encode_transition(steps: Sequence[Transition]) -> tuple[str, list[str]]:
    """The state ``steps`` end in ('' when they set none) and the script's arguments from
    index FIRST on (see :func:`transition_script`): their fields merged, then their events."""
    merged: dict[str, str] = {}
    events: list[str] = []
    for fields, event, data, dedupe, at in steps:
        when_text = (at or datetime.now(UTC)).isoformat()
        for name, value in fields.items():
            if value is not None:
                merged[name] = _text(name, value, at, when_text)
        if event is not None:
            events += (event, when_text, dumps(data) if data else "{}", dedupe or "")
    short: list[str] = []
    long: list[str] = []
    for name, value in merged.items():
        into = long if name in TEXT_FIELDS and len(value.encode()) > SHORT_VALUE_MAX else short
        into += (name, value)
    return merged.get("state", ""), [str(len(short)), *short, str(len(long)), *long, *events]
