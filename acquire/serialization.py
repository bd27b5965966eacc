"""JSON serialisation for arq, replacing its default pickle.

arq pickles job arguments and results by default, so anyone who can write to Redis can run
code on every worker. acquire's worker and client both use these functions instead: a
payload that is not JSON (a pickle, garbage) fails to deserialise and is never executed.

Exceptions in results are stored as ``{"error_type": ..., "message": ...}`` so a failed
job keeps its real error rather than arq's "unable to serialize result".
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

__all__ = ["JobError", "deserialize", "serialize"]


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


def _hook(obj: dict[str, Any]) -> Any:
    if obj.get("__error__") is True:
        return JobError(str(obj.get("error_type")), str(obj.get("message")))
    return obj


def serialize(obj: Any) -> bytes:
    """arq ``job_serializer``: compact JSON bytes."""
    return json.dumps(obj, default=_default, separators=(",", ":")).encode()


def deserialize(data: bytes) -> Any:
    """arq ``job_deserializer``: JSON only; anything else raises ``ValueError``."""
    return json.loads(data, object_hook=_hook)
