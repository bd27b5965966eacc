"""Job results as models: one per kind, stored in Redis as their JSON and validated on read.

``await job.result()`` returns the kind's model (:class:`SecFilingsResult`, ...); a result
that does not load (written by another acquire version) raises :class:`ResultFormatError`
naming the version that wrote it.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import Field, ValidationError

from acquire.errors import ResultFormatError
from acquire.models import JobKind
from acquire.results.base import CompanyItem, ResultModel, company_results
from acquire.results.risk_drift import DriftFilings, DriftYears, RiskDriftResult
from acquire.results.sec_filings import FilingRecord, FilingStatus, SecCompanyResult, SecFilingsResult
from acquire.results.xbrl_facts import XbrlCompanyResult, XbrlFactsResult
from acquire.results.yahoo import YahooCompanyResult, YahooResult
from acquire.version import __version__

__all__ = [
    "RESULT_MODELS",
    "CompanyItem",
    "DriftFilings",
    "DriftYears",
    "FilingRecord",
    "FilingStatus",
    "JobResult",
    "ResultModel",
    "RiskDriftResult",
    "SecCompanyResult",
    "SecFilingsResult",
    "XbrlCompanyResult",
    "XbrlFactsResult",
    "YahooCompanyResult",
    "YahooResult",
    "company_results",
    "load_result",
]

#: Any job's result; ``kind`` tells which.
JobResult = Annotated[
    SecFilingsResult | XbrlFactsResult | YahooResult | RiskDriftResult, Field(discriminator="kind")
]

#: The result model of each kind.
RESULT_MODELS: dict[JobKind, type[SecFilingsResult | XbrlFactsResult | YahooResult | RiskDriftResult]] = {
    JobKind.SEC_FILINGS: SecFilingsResult,
    JobKind.XBRL_FACTS: XbrlFactsResult,
    JobKind.YAHOO: YahooResult,
    JobKind.RISK_DRIFT: RiskDriftResult,
}


def load_result(kind: JobKind, body: bytes | str, *, job_id: str = "") -> JobResult:
    """The stored result of a ``kind`` job as its model.

    Results written before typed results (plain dicts of the same shape, no ``kind`` or
    ``acquire_version``) load too. Raises :class:`ResultFormatError` when ``body`` does not fit
    the model, naming the version that wrote it.
    """
    model = RESULT_MODELS[kind]
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise ResultFormatError(_mismatch(model.__name__, body, exc, job_id)) from exc


def _mismatch(model: str, body: bytes | str, exc: ValidationError, job_id: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    version = data.get("acquire_version") if isinstance(data, dict) else None
    writer = (
        f"acquire {version}" if isinstance(version, str) else "acquire 0.1.0 or earlier (untyped results)"
    )
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "result"
    job = f"job {job_id}" if job_id else "the job"
    return (
        f"the result of {job} was written by {writer} and does not load as {model} of acquire "
        f"{__version__}: {where}: {first['msg']}"
    )
