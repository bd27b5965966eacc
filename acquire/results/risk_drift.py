"""The result of a ``risk_drift`` job: the analysis report, for which ticker, years and filings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from acquire.analysis.models import RiskDriftReport
from acquire.models import JobKind
from acquire.results.base import ResultModel
from acquire.sources.sec.submissions import Filing

__all__ = ["DriftFilings", "DriftYears", "RiskDriftResult"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class DriftYears(BaseModel):
    """The two fiscal years compared."""

    model_config = _FROZEN

    current: int
    previous: int


class DriftFilings(BaseModel):
    """The two 10-Ks compared."""

    model_config = _FROZEN

    current: Filing
    previous: Filing


class RiskDriftResult(RiskDriftReport, ResultModel):
    """The :class:`~acquire.analysis.RiskDriftReport` (its fields, flat) plus what it compares."""

    model_config = _FROZEN

    kind: Literal[JobKind.RISK_DRIFT] = JobKind.RISK_DRIFT
    ticker: str
    years: DriftYears
    filings: DriftFilings

    @classmethod
    def of(
        cls, report: RiskDriftReport, *, ticker: str, years: DriftYears, filings: DriftFilings
    ) -> RiskDriftResult:
        """The result for ``report`` (its parts are taken as they are, not validated again)."""
        parts = {name: getattr(report, name) for name in type(report).model_fields}
        return cls(ticker=ticker, years=years, filings=filings, **parts)
