"""acquire's JSON: the codec arq uses instead of pickle, and :func:`dumps` for everything acquire
writes to Redis itself (status fields, events, results, topic entries, tokens, cache metadata).

The arq codec
-------------

arq pickles job arguments and results by default, so anyone who can write to Redis can run
code on every worker. acquire's worker and client both use these functions instead: a
payload that is not JSON (a pickle, garbage) fails to deserialise and is never executed, and
so does JSON that is not an arq job or result of the right shape (field types and ranges).

Exceptions in results are stored as ``{"error_type": ..., "message": ...}`` so a failed
job keeps its real error rather than arq's "unable to serialize result".
"""

from __future__ import annotations

import json
import json.encoder
from datetime import date, datetime
from typing import Any

__all__ = ["JobError", "deserialize", "dumps", "serialize"]


class JobError(Exception):
    """A job's exception, restored from its JSON form."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {"__error__": True, "error_type": type(value).__name__, "message": str(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ERROR_MARK = b'"__error__"'


def _hook(obj: dict[str, Any]) -> Any:
    if obj.get("__error__") is True:
        return JobError(str(obj.get("error_type")), str(obj.get("message")))
    return obj


# The last millisecond arq's ms_to_datetime can represent: 9999-12-31T23:59:59.999Z.
_MAX_MS = 253_402_300_799_999
_JOB_FIELDS = frozenset({"t", "f", "a", "k", "et"})
_RESULT_FIELDS = frozenset({"s", "r", "st", "ft"})
_OPTIONAL_RESULT_FIELDS = frozenset({"q", "id"})


def _is_int(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _shape_error(record: Any) -> str | None:
    """What makes ``record`` neither an arq job nor an arq result, or ``None`` if it is one.

    arq reads a job's fields outside its own error handling (it converts ``et`` to a datetime,
    compares ``t``, looks ``f`` up in a dict), where a wrong type would end the worker.
    """
    if not isinstance(record, dict):
        return "not a JSON object"
    names = record.keys()
    if missing := _JOB_FIELDS - names:
        return f"missing {', '.join(sorted(missing))}"
    is_result = not _RESULT_FIELDS.isdisjoint(names)
    if is_result and (missing := _RESULT_FIELDS - names):
        return f"result missing {', '.join(sorted(missing))}"
    allowed = _JOB_FIELDS | (_RESULT_FIELDS | _OPTIONAL_RESULT_FIELDS if is_result else frozenset())
    if unknown := names - allowed:
        return f"unknown field {', '.join(sorted(unknown))}"
    if not (record["t"] is None or _is_int(record["t"], 0, 2**31)):
        return "t (the try) must be null or a small non-negative integer"
    if not isinstance(record["f"], str) or not 0 < len(record["f"]) <= 256:
        return "f (the function) must be a name"
    if not isinstance(record["a"], list) or not isinstance(record["k"], dict):
        return "a must be a list and k an object"
    for name in ("et", "st", "ft") if is_result else ("et",):
        if not _is_int(record[name], 0, _MAX_MS):
            return f"{name} must be a time in milliseconds since 1970 (up to the year 9999)"
    if is_result:
        if type(record["s"]) is not bool:
            return "s (success) must be true or false"
        for name in _OPTIONAL_RESULT_FIELDS & names:
            if not isinstance(record[name], str):
                return f"{name} must be a string"
    return None


def serialize(obj: Any) -> bytes:
    """arq ``job_serializer``: compact JSON bytes.

    Same text as ``json.dumps(obj, default=..., separators=(",", ":"))``, from an encoder built
    once; a structure that contains itself raises ``RecursionError`` rather than ``ValueError``
    (arq reports either as a result it could not serialise, or refuses to enqueue the job).
    """
    if _C_SERIALIZER is None:
        return json.dumps(obj, default=_default, separators=(",", ":")).encode()
    return "".join(_C_SERIALIZER(obj, 0)).encode()


def deserialize(data: bytes | str) -> Any:
    """arq ``job_deserializer``: a JSON arq job or result; anything else raises ``ValueError``.

    arq turns the ``ValueError`` into its ``DeserializationError`` and fails the job.
    """
    # Only a record that names the error marker can hold an error to restore: the others are
    # decoded without a Python call per object (a key spelt with escapes stays a plain dict).
    hook = _hook if not isinstance(data, bytes) or _ERROR_MARK in data else None
    record = json.loads(data, object_hook=hook)
    problem = _shape_error(record)
    if problem is not None:
        raise ValueError(f"not an arq job: {problem}")
    return record


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False)
# The C encoder behind JSONEncoder, built once: ``encode`` rebuilds it (and a float formatter)
# on every call, a measurable share of a short job's status writes.
_make_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)  # None without _json
_C_ENCODER: Any = (
    _make_c_encoder(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    if _make_c_encoder is not None
    else None
)
# The same for arq's records (every job and result of the process: built once, too).
_C_SERIALIZER: Any = (
    _make_c_encoder(None, _default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    if _make_c_encoder is not None
    else None
)


def dumps(value: Any) -> str:
    """Compact JSON for stream entries and status fields (``str()`` for other types).

    Same text as ``json.dumps(value, separators=(",", ":"), default=str)``; values are plain
    trees (model dumps), so no circular-reference bookkeeping.
    """
    if _C_ENCODER is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))
