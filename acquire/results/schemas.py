"""JSON Schemas of what acquire reads and writes, for consumers that do not run Python.

``acquire schema [KIND]`` prints them; the router serves them at ``GET /schema`` and
``GET /schema/{kind}``. Per kind: the request (``POST /jobs`` body) and the result
(``GET /jobs/{id}/result``'s ``result``, a webhook's ``data.result``); for every job: the
progress events (SSE ``data``) and the completion webhook's payload.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from acquire.events import JobEvent
from acquire.models import (
    JobKind,
    JobState,
    RiskDriftRequest,
    SecFilingsRequest,
    XbrlFactsRequest,
    YahooRequest,
)
from acquire.results import RESULT_MODELS, JobResult

__all__ = ["WebhookData", "WebhookPayload", "all_schemas", "kind_schemas"]

_REQUEST_MODELS: dict[JobKind, type[BaseModel]] = {
    JobKind.SEC_FILINGS: SecFilingsRequest,
    JobKind.XBRL_FACTS: XbrlFactsRequest,
    JobKind.YAHOO: YahooRequest,
    JobKind.RISK_DRIFT: RiskDriftRequest,
}


class WebhookData(BaseModel):
    """``data`` of the completion webhook."""

    model_config = ConfigDict(extra="allow")

    kind: JobKind
    summary: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    result: JobResult | None = Field(
        None, description="The job's result (absent when it failed without one)."
    )


class WebhookPayload(BaseModel):
    """The body of the completion webhook (signed as Standard Webhooks)."""

    job_id: str
    status: JobState
    timestamp: str = Field(description="When the job finished (ISO 8601, UTC).")
    data: WebhookData


@cache
def kind_schemas(kind: JobKind) -> dict[str, Any]:
    """``{"request": ..., "result": ...}``: the JSON Schemas of ``kind``'s request and result."""
    return {
        "request": _REQUEST_MODELS[kind].model_json_schema(),
        "result": RESULT_MODELS[kind].model_json_schema(),
    }


@cache
def all_schemas() -> dict[str, Any]:
    """Every kind's schemas, plus ``event`` (any progress event) and ``webhook`` (its payload)."""
    return {
        "kinds": {kind.value: kind_schemas(kind) for kind in JobKind},
        "event": TypeAdapter(JobEvent).json_schema(),
        "webhook": WebhookPayload.model_json_schema(),
    }
