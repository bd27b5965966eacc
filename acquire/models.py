"""Pydantic models shared by every layer: requests, status records, items and events.

Requests are validated here, at the edge, before anything reaches Redis; the worker validates
the same models again when it takes a job off the queue, so a payload written to Redis by
hand gets the same checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUndefined, to_jsonable_python

from acquire.ids import ID_PATTERN, ORG_PATTERN

__all__ = [
    "FORM_TYPES",
    "METRICS",
    "TEN_K_ITEMS",
    "Company",
    "EventType",
    "ItemState",
    "ItemStatus",
    "JobKind",
    "JobRequest",
    "JobState",
    "JobStatus",
    "OrgId",
    "RiskDriftRequest",
    "SecFilingsRequest",
    "TenKItem",
    "XbrlFactsRequest",
    "YahooRequest",
    "compact_request",
    "expand_request",
    "parse_request",
    "validate_org",
]

MAX_COMPANIES = 500
FIRST_EDGAR_YEAR = 1993


def validate_org(value: str) -> str:
    """Return ``value`` if it is a valid organisation id, else raise ``ValueError``."""
    if not ORG_PATTERN.fullmatch(value):
        raise ValueError(
            "organisation id must be 1-64 letters, digits, '_' or '-', starting with a letter or digit"
        )
    return value


OrgId = Annotated[str, AfterValidator(validate_org)]
JobId = Annotated[str, StringConstraints(pattern=ID_PATTERN.pattern)]

_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,5}(?:[.-][A-Z0-9]{1,3})?$")
_CIK = re.compile(r"^[0-9]{1,10}$")


def _check_company(value: str) -> str:
    value = value.strip().upper()
    if _CIK.fullmatch(value):
        return str(int(value)) if int(value) > 0 else _bad_company(value)
    if _TICKER.fullmatch(value):
        return value
    return _bad_company(value)


def _bad_company(value: str) -> str:
    raise ValueError(f"{value!r} is neither a ticker (e.g. NVDA, BRK-B) nor a CIK (1 to 10 digits, not zero)")


#: A ticker (upper-cased) or a CIK (digits, leading zeros removed).
Company = Annotated[str, StringConstraints(max_length=16), AfterValidator(_check_company)]


def _check_year(value: int) -> int:
    last = datetime.now(UTC).year + 1
    if not FIRST_EDGAR_YEAR <= value <= last:
        raise ValueError(f"year must be between {FIRST_EDGAR_YEAR} and {last} (EDGAR's range)")
    return value


Year = Annotated[int, AfterValidator(_check_year)]

#: Forms the SEC job knows how to filter. Amendments (``10-K/A``) come with include_amendments.
FormType = Literal["10-K", "10-Q", "8-K", "20-F", "40-F", "6-K", "10-KT", "S-1", "DEF 14A"]
FORM_TYPES: tuple[FormType, ...] = get_args(FormType)
#: The items of Form 10-K, in order.
TenKItem = Literal[
    "1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A", "8", "9", "9A", "9B", "9C",
    "10", "11", "12", "13", "14", "15", "16",
]  # fmt: skip
TEN_K_ITEMS: tuple[TenKItem, ...] = get_args(TenKItem)

#: Standardised XBRL metrics (see ``acquire.sources.sec.xbrl_catalogue`` for their candidate tags).
Metric = Literal[
    "revenue",
    "cost_of_revenue",
    "gross_profit",
    "operating_income",
    "net_income",
    "eps_basic",
    "eps_diluted",
    "total_assets",
    "total_liabilities",
    "stockholders_equity",
    "cash_and_equivalents",
    "operating_cash_flow",
    "capital_expenditure",
    "shares_outstanding",
]
METRICS: tuple[Metric, ...] = get_args(Metric)


class JobKind(StrEnum):
    """The four job kinds; the value is also the arq function name."""

    SEC_FILINGS = "sec_filings"
    XBRL_FACTS = "xbrl_facts"
    YAHOO = "yahoo"
    RISK_DRIFT = "risk_drift"


#: Kinds routed to the analysis queue (the seed's ``task_routes``); the rest go to acquisition.
ANALYSIS_KINDS = frozenset({JobKind.RISK_DRIFT})


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    callback_url: HttpUrl | None = Field(
        None, description="Receives a signed webhook when the job reaches a final status."
    )


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("contains duplicates")
    return values


class SecFilingsRequest(_Request):
    """Filings of some companies, by form type and fiscal year, with their primary documents."""

    kind: Literal[JobKind.SEC_FILINGS] = JobKind.SEC_FILINGS
    companies: Annotated[list[Company], Field(min_length=1, max_length=MAX_COMPANIES)]
    form_types: Annotated[list[FormType], Field(min_length=1, max_length=len(FORM_TYPES))] = ["10-K"]
    years: Annotated[list[Year], Field(min_length=1, max_length=40)]
    include_amendments: bool = False
    download: bool = Field(True, description="Download each filing's primary document.")
    sections: Annotated[list[TenKItem], Field(min_length=1, max_length=len(TEN_K_ITEMS))] | None = Field(
        None, description="Store only these 10-K items' text, not the whole documents."
    )

    _companies = field_validator("companies", "form_types", "years")(_unique)

    @field_validator("sections")
    @classmethod
    def _unique_sections(cls, value: list[TenKItem] | None) -> list[TenKItem] | None:
        return None if value is None else _unique(value)


class XbrlFactsRequest(_Request):
    """Standardised financial metrics from XBRL company facts."""

    kind: Literal[JobKind.XBRL_FACTS] = JobKind.XBRL_FACTS
    companies: Annotated[list[Company], Field(min_length=1, max_length=MAX_COMPANIES)]
    metrics: Annotated[list[Metric], Field(min_length=1, max_length=len(METRICS))] = list(METRICS)
    years: Annotated[list[Year], Field(min_length=1, max_length=40)]
    period: Literal["annual", "quarterly", "both"] = "annual"

    _unique = field_validator("companies", "metrics", "years")(_unique)


YahooPart = Literal["profile", "metrics", "history"]


class YahooRequest(_Request):
    """Company profile, key metrics and/or daily price history from Yahoo Finance."""

    kind: Literal[JobKind.YAHOO] = JobKind.YAHOO
    companies: Annotated[list[Company], Field(min_length=1, max_length=MAX_COMPANIES)]
    parts: Annotated[list[YahooPart], Field(min_length=1, max_length=3)] = [
        "profile",
        "metrics",
        "history",
    ]
    range: Literal["1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"] = "1y"
    start: datetime | None = Field(None, description="History start (overrides range).")
    end: datetime | None = Field(None, description="History end (with start).")
    interval: Literal["1d", "1wk", "1mo"] = "1d"

    _unique = field_validator("companies", "parts")(_unique)

    @model_validator(mode="after")
    def _period(self) -> YahooRequest:
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end must be given together")
        if self.start is not None and self.end is not None:
            # One naive and one aware time is most likely a slip; naming it beats reading one as UTC.
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                raise ValueError("start and end must both have a timezone or both have none")
            if self.start >= self.end:
                raise ValueError("start must be before end")
        return self


class RiskDriftRequest(_Request):
    """Year-over-year drift of a company's 10-K Item 1A (Risk Factors)."""

    kind: Literal[JobKind.RISK_DRIFT] = JobKind.RISK_DRIFT
    ticker: Company
    years: Annotated[list[Year], Field(min_length=2, max_length=2)] = Field(
        description="[current fiscal year, previous fiscal year]"
    )

    @field_validator("years")
    @classmethod
    def _ordered(cls, years: list[int]) -> list[int]:
        if years[0] <= years[1]:
            raise ValueError("years must be [current, previous] with current > previous")
        return years


JobRequest = Annotated[
    SecFilingsRequest | XbrlFactsRequest | YahooRequest | RiskDriftRequest,
    Field(discriminator="kind"),
]
_REQUEST_ADAPTER: TypeAdapter[JobRequest] = TypeAdapter(JobRequest)


class _Kind(BaseModel):
    kind: JobKind


def parse_request(data: Any) -> JobRequest:
    """Validate a request given as a dict or JSON text (``kind`` selects the model).

    Raises :class:`pydantic.ValidationError`; every error's ``loc`` names the field.
    """
    if isinstance(data, str | bytes):
        data = _JSON_ADAPTER.validate_json(data)
    try:
        return _REQUEST_ADAPTER.validate_python(data)
    except ValidationError:
        if isinstance(data, dict):
            # An unknown kind fails the union without naming a field: report it as `kind`.
            _Kind.model_validate({"kind": data.get("kind")})
        raise


_JSON_ADAPTER: TypeAdapter[Any] = TypeAdapter(Any)


def _static_defaults(model: type[BaseModel]) -> tuple[list[str], dict[str, Any]]:
    """A request model's field names in order, and the JSON of its constant defaults."""
    defaults = {
        name: to_jsonable_python(info.default)
        for name, info in model.model_fields.items()
        if name != "kind" and info.default is not PydanticUndefined and info.default_factory is None
    }
    return list(model.model_fields), defaults


_REQUEST_FIELDS: dict[str, tuple[list[str], dict[str, Any]]] = {
    model.model_fields["kind"].default.value: _static_defaults(model)
    for model in (SecFilingsRequest, XbrlFactsRequest, YahooRequest, RiskDriftRequest)
}


def compact_request(request: JobRequest) -> dict[str, Any]:
    """``request``'s JSON without the fields that hold their default value (``kind`` stays).

    What acquire stores and enqueues: a one-company request fits Redis's compact encodings,
    and :func:`expand_request` (or validating it again) gives the whole request back.
    """
    _, defaults = _REQUEST_FIELDS[request.kind.value]
    full = request.model_dump(mode="json")
    return {name: value for name, value in full.items() if name not in defaults or value != defaults[name]}


def expand_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """The whole request (every field, in the model's order) from :func:`compact_request`'s form.

    A whole request comes back unchanged, and so does anything that is not a known kind's.
    """
    known = _REQUEST_FIELDS.get(data.get("kind"))  # type: ignore[arg-type]
    if known is None:
        return dict(data)
    order, defaults = known
    full: dict[str, Any] = {}
    for name in order:
        if name in data:
            full[name] = data[name]
        elif name in defaults:
            value = defaults[name]
            full[name] = list(value) if isinstance(value, list) else value  # never the shared one
    full.update((name, value) for name, value in data.items() if name not in full)
    return full


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIALLY_FAILED = "partially_failed"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.PARTIALLY_FAILED})


class ItemState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    NOT_FOUND = "not_found"


class ItemStatus(BaseModel):
    """One unit of a job (a company, a filing, a concept) and how it went."""

    key: str
    state: ItemState
    error: str | None = None
    error_type: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    updated_at: datetime


class JobStatus(BaseModel):
    """A job's status record, as stored in Redis and served by the router."""

    job_id: JobId
    org: OrgId
    kind: JobKind
    state: JobState
    progress: int = Field(0, ge=0, le=100)
    step: str | None = None
    attempts: int = 0
    items_total: int = 0
    items_done: int = 0
    items_failed: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    error_type: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    request: dict[str, Any] = Field(default_factory=dict)


class EventType(StrEnum):
    JOB_QUEUED = "job_queued"
    JOB_STARTED = "job_started"
    STEP_COMPLETE = "step_complete"
    ITEM_COMPLETED = "item_completed"
    ITEM_FAILED = "item_failed"
    JOB_RETRYING = "job_retrying"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"

    @property
    def terminal(self) -> bool:
        return self in (EventType.JOB_COMPLETED, EventType.JOB_FAILED)
