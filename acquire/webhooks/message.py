"""The completion webhook's message: its JSON body and its signed headers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from acquire.settings import Settings
from acquire.webhooks.signing import Signer

__all__ = ["USER_AGENT", "WebhookMessage", "build_message", "encode_payload"]

USER_AGENT = "acquire-webhooks/1 (+https://www.standardwebhooks.com/)"
_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Serialise a payload once, compactly and deterministically (these bytes are signed)."""
    try:
        return json.dumps(
            payload, separators=(",", ":"), sort_keys=True, allow_nan=False, default=_json_default
        ).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"webhook data is not JSON serialisable: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookMessage(BaseModel):
    """One signed message: send ``body`` as is, with ``headers``."""

    model_config = ConfigDict(frozen=True)

    msg_id: str
    timestamp: int = Field(description="Unix seconds the signature covers.")
    body: bytes
    headers: dict[str, str]


def build_message(
    job_id: str,
    status: str,
    data: Mapping[str, Any],
    *,
    settings: Settings,
    msg_id: str | None = None,
    now: datetime | None = None,
    occurred_at: datetime | None = None,
) -> WebhookMessage:
    """Serialise and sign the completion webhook of a job.

    Build it again for each attempt (with the same ``occurred_at``, the job's finish time):
    the id and body stay the same, only ``webhook-timestamp`` and the signature move to
    ``now``. ``msg_id`` defaults to ``msg_<job_id>``: one message per job.
    """
    signer = Signer.from_settings(settings)
    now = now or datetime.now(UTC)
    if now.tzinfo is None or (occurred_at is not None and occurred_at.tzinfo is None):
        raise ValueError("now and occurred_at must be timezone-aware datetimes")
    msg_id = msg_id or f"msg_{job_id}"
    if not _MSG_ID.fullmatch(msg_id):
        raise ValueError("msg_id must be 1-128 letters, digits, '_' or '-'")
    body = encode_payload(
        {"job_id": job_id, "status": str(status), "data": data, "timestamp": _iso(occurred_at or now)}
    )
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signer.sign(msg_id, timestamp, body),
    }
    return WebhookMessage(msg_id=msg_id, timestamp=timestamp, body=body, headers=headers)
