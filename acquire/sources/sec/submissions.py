"""EDGAR submissions: the typed filing models, tolerant parsing, and the fiscal-year rule.

**Fiscal years.** A filing's ``fiscal_year`` is derived from its period of report
(``reportDate``) by :func:`fiscal_year_of`: for annual reports (10-K, 20-F, 40-F, 10-KT and
amendments) it is the calendar year in which the fiscal year *ends*, except that a period
ending on 1-7 January belongs to the previous year (52/53-week years ending "on the Saturday
closest to 31 December"). NVIDIA's fiscal 2025 ends 2025-01-26 -> 2025; Apple's fiscal 2024
ends 2024-09-28 -> 2024. Other forms (10-Q, 8-K, ...) belong to the fiscal year *containing*
their period, using the company's ``fiscalYearEnd`` (MMDD) with the same 7-day slack; Apple's
10-Q for the quarter ending 2024-12-28 is fiscal 2025. Without a ``reportDate`` the filing date
is used (for annual reports: the fiscal year before the one the filing date falls in).

Parsing is tolerant: 2023-era submissions lack fields that 2026 ones have; a missing column
is ``None``, never a crash.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from acquire.errors import PermanentError

__all__ = [
    "ANNUAL_FORMS",
    "CompanyRef",
    "Filing",
    "FilingDocument",
    "PageRef",
    "Submissions",
    "fiscal_year_of",
    "parse_filings",
    "parse_submissions",
]

#: Annual-report forms: their fiscal year is the year their period ends (see module doc).
ANNUAL_FORMS = frozenset(
    {
        "10-K",
        "10-K/A",
        "10-KT",
        "10-KT/A",
        "20-F",
        "20-F/A",
        "40-F",
        "40-F/A",
        "10-K405",
        "10-KSB",
        "10-KSB/A",
    }
)
_SLACK = timedelta(days=7)


def _fye(year: int, month: int, day: int) -> date:
    while True:  # 0229 in a non-leap year, or a malformed day: clamp to the month's end
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1
            if day < 28:
                raise


def fiscal_year_of(period_end: date, *, annual: bool, fiscal_year_end: str | None = None) -> int:
    """The fiscal year a period ending on ``period_end`` belongs to (rule in the module doc)."""
    mmdd = fiscal_year_end or ""
    if annual or not (len(mmdd) == 4 and mmdd.isdigit() and 1 <= int(mmdd[:2]) <= 12):
        early_january = period_end.month == 1 and period_end.day <= _SLACK.days
        return period_end.year - 1 if early_january else period_end.year
    month, day = int(mmdd[:2]), max(1, int(mmdd[2:]))
    year = period_end.year
    if period_end <= _fye(year - 1, month, day) + _SLACK:
        return year - 1
    if period_end <= _fye(year, month, day) + _SLACK:
        return year
    return year + 1


class CompanyRef(BaseModel):
    """A company as the ticker map knows it."""

    model_config = ConfigDict(frozen=True)

    cik: int
    ticker: str | None = None
    name: str


class Filing(BaseModel):
    """One filing from a company's submissions, with where its primary document lives."""

    model_config = ConfigDict(frozen=True)

    cik: int
    company: str
    form: str
    accession: str = Field(description="Accession number with dashes, e.g. 0001045810-25-000023.")
    filing_date: date
    report_date: date | None = None
    fiscal_year: int
    primary_document: str | None = None
    primary_doc_description: str | None = None
    document_url: str | None = None
    size: int | None = None
    is_xbrl: bool | None = None
    is_inline_xbrl: bool | None = None
    acceptance_datetime: str | None = None
    items: str | None = Field(None, description="8-K item numbers, e.g. '2.02,9.01'.")

    @property
    def is_amendment(self) -> bool:
        return self.form.endswith("/A")


class FilingDocument(BaseModel):
    """A filing's primary document: its bytes (not serialised) and their fingerprint."""

    filing: Filing
    content: bytes = Field(exclude=True, repr=False)
    size: int
    sha256: str
    content_type: str | None = None
    source: str = Field(description='"network" or "cache".')

    @property
    def text(self) -> str:
        """The document decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")


class PageRef(BaseModel):
    """An older page of filings (``filings.files``): flat arrays, filed in [filing_from, filing_to]."""

    name: str
    filing_count: int | None = None
    filing_from: date | None = None
    filing_to: date | None = None


class Submissions(BaseModel):
    """A company's submissions: who it is, its recent filings and the older pages."""

    cik: int
    name: str
    tickers: list[str] = Field(default_factory=list)
    fiscal_year_end: str | None = None
    filings: list[Filing] = Field(default_factory=list)
    pages: list[PageRef] = Field(default_factory=list)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _column(table: Mapping[str, Any], name: str, length: int) -> list[Any]:
    values = table.get(name)
    if not isinstance(values, list):
        return [None] * length  # older schemas lack some columns (e.g. core_type)
    return values + [None] * (length - len(values))


def _flag(value: Any) -> bool | None:
    return None if value is None or value == "" else bool(int(value))


def parse_filings(
    table: Mapping[str, Any],
    *,
    cik: int,
    company: str,
    fiscal_year_end: str | None,
    www_base_url: str,
    forms: Container[str] | None = None,
) -> list[Filing]:
    """Filings from SEC's parallel arrays (``filings.recent`` or an older page).

    ``forms`` (upper-case form types) keeps only those rows: a large filer lists ~1,000
    filings, and building a model for each costs more than the rest of a job that wants a few.
    """
    accessions = table.get("accessionNumber")
    if not isinstance(accessions, list):
        return []
    n = len(accessions)
    cols = {
        name: _column(table, name, n)
        for name in (
            "form",
            "filingDate",
            "reportDate",
            "primaryDocument",
            "primaryDocDescription",
            "size",
            "isXBRL",
            "isInlineXBRL",
            "acceptanceDateTime",
            "items",
        )
    }
    filings = []
    for i, accession in enumerate(accessions):
        form, filed = cols["form"][i], _date(cols["filingDate"][i])
        if not accession or not form or filed is None:
            continue  # a row without the essentials cannot be a filing
        form = str(form)
        if forms is not None and form.upper() not in forms:
            continue
        annual = form in ANNUAL_FORMS
        reported = _date(cols["reportDate"][i])
        if reported is not None:
            fy = fiscal_year_of(reported, annual=annual, fiscal_year_end=fiscal_year_end)
        else:
            fy = fiscal_year_of(filed, annual=False, fiscal_year_end=fiscal_year_end) - int(annual)
        doc = cols["primaryDocument"][i] or None
        url = (
            f"{www_base_url}/Archives/edgar/data/{cik}/{str(accession).replace('-', '')}/{doc}"
            if doc
            else None
        )
        filings.append(
            Filing(
                cik=cik,
                company=company,
                form=form,
                accession=str(accession),
                filing_date=filed,
                report_date=reported,
                fiscal_year=fy,
                primary_document=doc,
                primary_doc_description=cols["primaryDocDescription"][i] or None,
                document_url=url,
                size=cols["size"][i],
                is_xbrl=_flag(cols["isXBRL"][i]),
                is_inline_xbrl=_flag(cols["isInlineXBRL"][i]),
                acceptance_datetime=cols["acceptanceDateTime"][i] or None,
                items=cols["items"][i] or None,
            )
        )
    return filings


def parse_submissions(
    data: Mapping[str, Any], *, www_base_url: str, forms: Container[str] | None = None
) -> Submissions:
    """Parse a ``submissions/CIK##########.json`` document (2023 and 2026 schemas alike);
    ``forms`` as for :func:`parse_filings`."""
    try:
        cik = int(str(data["cik"]))
    except (KeyError, ValueError) as exc:
        raise PermanentError(f"submissions JSON without a valid 'cik': {exc}") from None
    name = str(data.get("name") or f"CIK {cik}")
    fye = str(data["fiscalYearEnd"]) if data.get("fiscalYearEnd") else None
    filings = data.get("filings") or {}
    recent = filings.get("recent") or {}
    pages = [
        PageRef(
            name=str(f["name"]),
            filing_count=f.get("filingCount"),
            filing_from=_date(f.get("filingFrom")),
            filing_to=_date(f.get("filingTo")),
        )
        for f in filings.get("files") or []
        if isinstance(f, Mapping) and f.get("name")
    ]
    return Submissions(
        cik=cik,
        name=name,
        tickers=[str(t) for t in data.get("tickers") or []],
        fiscal_year_end=fye,
        filings=parse_filings(
            recent, cik=cik, company=name, fiscal_year_end=fye, www_base_url=www_base_url, forms=forms
        ),
        pages=pages,
    )
