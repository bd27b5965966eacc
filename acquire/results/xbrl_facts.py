"""The result of an ``xbrl_facts`` job: per company, each requested metric with provenance."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from acquire.models import JobKind, Metric
from acquire.results.base import CompanyItem, ResultModel
from acquire.sources.sec.xbrl_metrics import MetricResult

__all__ = ["XbrlCompanyResult", "XbrlFactsResult"]


class XbrlCompanyResult(CompanyItem):
    """One company's metrics; a metric it does not report has ``status="not_reported"``."""

    cik: int | None = None
    name: str | None = None
    metrics: dict[Metric, MetricResult] = Field(default_factory=dict)
    metrics_reported: int = 0
    metrics_not_reported: int = 0

    @model_validator(mode="before")
    @classmethod
    def _metric_names(cls, data: Any) -> Any:
        # Untyped results stored each metric without its name (the key was the name).
        metrics = data.get("metrics") if isinstance(data, dict) else None
        if isinstance(metrics, dict) and any(
            isinstance(v, dict) and "metric" not in v for v in metrics.values()
        ):
            fixed = {k: {"metric": k, **v} if isinstance(v, dict) else v for k, v in metrics.items()}
            data = {**data, "metrics": fixed}
        return data


class XbrlFactsResult(ResultModel):
    """Every requested company, in key order, with its state and metrics."""

    kind: Literal[JobKind.XBRL_FACTS] = JobKind.XBRL_FACTS
    companies: list[XbrlCompanyResult]
