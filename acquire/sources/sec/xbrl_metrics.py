"""Standardised metrics from XBRL company facts: which fact is the value of a metric and year.

:data:`CATALOGUE` maps each name of :data:`acquire.models.METRICS` to an ordered list of
candidate us-gaap/dei tags (companies switch tags between years: Apple's revenue is
``SalesRevenueNet`` until 2017, ``RevenueFromContractWithCustomerExcludingAssessedTax`` from
2018), its units and whether it is a *duration* (income, cash flow) or an *instant* (balance
sheet). :func:`extract_metric` is pure: companyfacts JSON in, typed values with provenance out.

How a value is chosen (the same fact appears in several filings: each 10-K repeats two or
three earlier years as comparatives):

1. Periods are read from the fact's own ``start``/``end``, never from its ``fy``/``fp`` (those
   describe the *filing*) nor from ``frame`` (calendar-aligned: NVIDIA's fiscal 2025 revenue
   carries ``CY2024``). Annual = 350-380 days, from annual reports (10-K, 20-F, 40-F, ...);
   quarter = 80-100 days, from 10-Q/10-K. Instants must fall on a fiscal period end.
2. Fiscal years follow :func:`acquire.sources.sec.edgar.fiscal_year_of`, the rule used for filings:
   an annual period belongs to the year it ends in (1-7 January -> previous year); a quarter
   belongs to the fiscal year containing it, from the fiscal year end seen in the data.
3. Among the candidates for one period the catalogue's earliest tag wins (candidate tags are
   not always synonyms: cash with or without restricted cash), then the latest filing, so a
   restatement replaces the original.
4. A fourth quarter nobody reported as such is derived as FY - (Q1 + Q2 + Q3) for additive
   metrics (``derived=True``), never for per-share values or instants.

A metric the company does not report is a :class:`MetricResult` with ``status="not_reported"``,
not an exception: one missing metric must not fail a whole job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from acquire.models import METRICS, Metric
from acquire.sources.sec.edgar import ANNUAL_FORMS, fiscal_year_of
from acquire.sources.sec.xbrl_catalogue import CATALOGUE, MetricSpec

__all__ = [
    "CATALOGUE",
    "FiscalPeriod",
    "MetricResult",
    "MetricSpec",
    "MetricValue",
    "Period",
    "extract_metric",
]

Period = Literal["annual", "quarterly", "both"]
FiscalPeriod = Literal["FY", "Q1", "Q2", "Q3", "Q4"]
_QUARTERLY_FORMS = frozenset({"10-Q", "10-Q/A"}) | ANNUAL_FORMS
_ANNUAL_DAYS = range(350, 381)
_QUARTER_DAYS = range(80, 101)
_COVER_WINDOW = timedelta(days=120)  # cover-page facts are dated a few weeks after the period


class MetricValue(BaseModel):
    """One value of a metric for one fiscal period, with where it came from."""

    model_config = ConfigDict(frozen=True)

    metric: Metric
    fiscal_year: int
    fiscal_period: FiscalPeriod
    start: date | None = None
    end: date
    value: int | float
    unit: str
    tag: str = Field(description='The "taxonomy:Tag" the value was reported under.')
    accession: str
    form: str
    filed: date
    frame: str | None = None
    derived: bool = Field(False, description="Q4 computed as FY - (Q1 + Q2 + Q3).")


class MetricResult(BaseModel):
    """A metric's values for the requested years; ``not_reported`` when the company has none."""

    metric: Metric
    period: Period
    status: Literal["ok", "partial", "not_reported"]
    values: list[MetricValue] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description='Periods without a value, e.g. "FY2019".')
    tags_tried: list[str] = Field(default_factory=list)

    def get(self, fiscal_year: int, fiscal_period: FiscalPeriod = "FY") -> MetricValue | None:
        """The value for one fiscal period, if reported."""
        return next(
            (v for v in self.values if v.fiscal_year == fiscal_year and v.fiscal_period == fiscal_period),
            None,
        )


@dataclass(frozen=True)
class _Candidate:
    tag: str
    rank: int
    unit: str
    start: date | None
    end: date
    value: int | float
    accession: str
    form: str
    filed: date
    frame: str | None

    def key(self) -> tuple[int, date, date, str]:
        # The catalogue's preferred tag first (tags are not always synonyms: cash with or
        # without restricted cash), then the latest period end, then the latest filing.
        return (-self.rank, self.end, self.filed, self.accession)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _candidates(facts: Mapping[str, Any], spec: MetricSpec) -> list[_Candidate]:
    out = []
    for rank, qualified in enumerate(spec.tags):
        taxonomy, _, tag = qualified.partition(":")
        concept = (facts.get(taxonomy) or {}).get(tag) or {}
        for unit in spec.units:
            for fact in (concept.get("units") or {}).get(unit) or []:
                end, filed, value = _date(fact.get("end")), _date(fact.get("filed")), fact.get("val")
                if end is None or filed is None or type(value) not in (int, float):
                    continue  # tolerate malformed rows: skip them, keep the rest
                out.append(
                    _Candidate(
                        qualified,
                        rank,
                        unit,
                        _date(fact.get("start")),
                        end,
                        value,
                        str(fact.get("accn") or ""),
                        str(fact.get("form") or ""),
                        filed,
                        fact.get("frame"),
                    )
                )
    return out


def _days(c: _Candidate) -> int:
    return (c.end - c.start).days if c.start is not None else -1


def _calendar(facts: Mapping[str, Any]) -> tuple[dict[int, date], set[date]]:
    """Fiscal year ends (by fiscal year) and quarter ends, from the company's duration facts."""
    year_ends: dict[int, date] = {}
    quarter_ends: set[date] = set()
    for spec in CATALOGUE.values():
        if spec.period_type != "duration":
            continue
        for c in _candidates(facts, spec):
            if _days(c) in _ANNUAL_DAYS and c.form in ANNUAL_FORMS:
                year = fiscal_year_of(c.end, annual=True)
                year_ends[year] = max(year_ends.get(year, c.end), c.end)
            elif _days(c) in _QUARTER_DAYS:
                quarter_ends.add(c.end)
    return year_ends, quarter_ends


def _quarter(end: date, year_ends: Mapping[int, date]) -> tuple[int, int] | None:
    """(fiscal year, quarter 1-4) of a period ending on ``end``."""
    if not year_ends:
        return None
    latest = year_ends[max(year_ends)]
    year = fiscal_year_of(end, annual=False, fiscal_year_end=f"{latest.month:02d}{latest.day:02d}")
    previous_end = year_ends.get(year - 1)
    if previous_end is None:
        this_end = year_ends.get(year)
        previous_end = this_end - timedelta(days=364) if this_end else latest.replace(year=year - 1)
    quarter = round((end - previous_end).days / 91.31)
    return (year, quarter) if 1 <= quarter <= 4 else None


def _best(cands: Iterable[_Candidate]) -> _Candidate | None:
    return max(cands, key=_Candidate.key, default=None)


def _value(
    spec: MetricSpec,
    year: int,
    period: FiscalPeriod,
    c: _Candidate,
    *,
    derived: bool = False,
    value: int | float | None = None,
) -> MetricValue:
    return MetricValue(
        metric=spec.name,
        fiscal_year=year,
        fiscal_period=period,
        start=c.start,
        end=c.end,
        value=c.value if value is None else value,
        unit=c.unit,
        tag=c.tag,
        accession=c.accession,
        form=c.form,
        filed=c.filed,
        frame=c.frame,
        derived=derived,
    )


def _annual(
    spec: MetricSpec, cands: Sequence[_Candidate], years: set[int], year_ends: Mapping[int, date]
) -> dict[int, MetricValue]:
    by_year: dict[int, list[_Candidate]] = {}
    year: int | None
    for c in cands:
        if c.form not in ANNUAL_FORMS:
            continue
        if spec.period_type == "duration":
            if _days(c) not in _ANNUAL_DAYS:
                continue
            year = fiscal_year_of(c.end, annual=True)
        else:
            year = _instant_year(c, year_ends)
        if year in years:
            by_year.setdefault(year, []).append(c)
    out = {}
    for year, group in by_year.items():
        best = _best(group)
        if best is not None:
            out[year] = _value(spec, year, "FY", best)
    return out


def _instant_year(c: _Candidate, year_ends: Mapping[int, date]) -> int | None:
    if c.start is not None:
        return None
    for year, end in year_ends.items():
        if c.end == end or (c.tag.startswith("dei:") and end < c.end <= end + _COVER_WINDOW):
            return year
    return None if year_ends else fiscal_year_of(c.end, annual=True)


def _quarterly(
    spec: MetricSpec,
    cands: Sequence[_Candidate],
    years: set[int],
    year_ends: Mapping[int, date],
    quarter_ends: set[date],
) -> dict[tuple[int, int], MetricValue]:
    period_ends = quarter_ends | set(year_ends.values())
    groups: dict[tuple[int, int], list[_Candidate]] = {}
    for c in cands:
        if c.form not in _QUARTERLY_FORMS:
            continue
        end = c.end
        if spec.period_type == "duration":
            if _days(c) not in _QUARTER_DAYS:
                continue
        elif c.start is not None:
            continue
        elif c.tag.startswith("dei:"):  # cover page: the latest period end before the cover date
            before = [e for e in period_ends if e < c.end <= e + _COVER_WINDOW]
            if not before:
                continue
            end = max(before)
        elif period_ends and end not in period_ends:
            continue
        where = _quarter(end, year_ends)
        if where is not None and where[0] in years:
            groups.setdefault(where, []).append(c)
    out = {}
    for (year, q), group in groups.items():
        best = _best(group)
        if best is not None:
            out[(year, q)] = _value(spec, year, f"Q{q}", best)  # type: ignore[arg-type]
    return out


def _derive_q4(
    spec: MetricSpec,
    quarters: dict[tuple[int, int], MetricValue],
    annual: Mapping[int, MetricValue],
    years: Iterable[int],
) -> None:
    if spec.period_type != "duration" or not spec.additive:
        return
    for year in years:
        parts = [quarters.get((year, q)) for q in (1, 2, 3)]
        fy = annual.get(year)
        if (year, 4) in quarters or fy is None or any(p is None for p in parts):
            continue
        q3 = parts[2]
        assert q3 is not None
        total = sum(p.value for p in parts if p is not None)
        value = fy.value - total
        if isinstance(fy.value, int) and all(isinstance(p.value, int) for p in parts if p is not None):
            value = int(value)
        quarters[(year, 4)] = fy.model_copy(
            update={
                "fiscal_period": "Q4",
                "value": value,
                "start": q3.end + timedelta(days=1),
                "derived": True,
                "frame": None,
            }
        )


def extract_metric(
    companyfacts: Mapping[str, Any],
    metric: Metric | str,
    years: Iterable[int],
    period: Period = "annual",
) -> MetricResult:
    """The metric's values for fiscal ``years`` from a companyfacts JSON document (pure).

    ``period``: ``annual`` (FY values from annual reports), ``quarterly`` (Q1-Q4) or ``both``.
    Raises ``ValueError`` only for an unknown metric or period; a company that does not report
    the metric gets ``status="not_reported"``.
    """
    if metric not in CATALOGUE:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if period not in ("annual", "quarterly", "both"):
        raise ValueError(f"period must be annual, quarterly or both, got {period!r}")
    spec = CATALOGUE[metric]  # type: ignore[index]
    wanted = sorted(set(years))
    facts = companyfacts.get("facts") or {}
    cands = _candidates(facts, spec)
    year_ends, quarter_ends = _calendar(facts)
    values: list[MetricValue] = []
    missing: list[str] = []
    annual = _annual(spec, cands, set(wanted), year_ends)
    if period in ("annual", "both"):
        values.extend(annual[y] for y in wanted if y in annual)
        missing.extend(f"FY{y}" for y in wanted if y not in annual)
    if period in ("quarterly", "both"):
        quarters = _quarterly(spec, cands, set(wanted), year_ends, quarter_ends)
        _derive_q4(spec, quarters, annual, wanted)
        for y in wanted:
            for q in (1, 2, 3, 4):
                if (y, q) in quarters:
                    values.append(quarters[(y, q)])
                else:
                    missing.append(f"FY{y}Q{q}")
    status: Literal["ok", "partial", "not_reported"] = (
        "not_reported" if not values else "partial" if missing else "ok"
    )
    return MetricResult(
        metric=spec.name,
        period=period,
        status=status,
        values=values,
        missing=missing,
        tags_tried=list(spec.tags),
    )
