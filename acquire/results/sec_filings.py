"""The result of an ``sec_filings`` job: per company, its filings and their documents."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from acquire.models import JobKind
from acquire.results.base import CompanyItem, ResultModel
from acquire.sources.sec.submissions import Filing

__all__ = ["FilingRecord", "FilingStatus", "SecCompanyResult", "SecFilingsResult"]

#: ``listed``: not downloaded (``download=False``); ``completed``: document fetched; ``failed``.
FilingStatus = Literal["listed", "completed", "failed"]


class FilingRecord(Filing):
    """A filing as the job found it, with its primary document's fingerprint when downloaded.

    ``size`` is the downloaded document's size once it was fetched.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: FilingStatus
    sha256: str | None = None
    text_length: int | None = Field(None, description="Characters of visible text (HTML stripped).")
    stored_in: str | None = Field(None, description='Where the document is kept, e.g. "redis cache".')
    source: str | None = Field(None, description='"network" or "cache".')
    error: str | None = None
    error_type: str | None = None
    document_id: str | None = Field(None, description="The document's id in the document store (its sha256).")
    document_uri: str | None = Field(None, description="The document's bytes in the document store.")
    text_uri: str | None = Field(None, description="The document's visible text in the document store.")
    sections_uri: str | None = Field(None, description="Its 10-K sections (JSON) in the store (10-K forms).")
    store_uri: str | None = Field(None, description="The document's URI, else its sections' URI.")


class SecCompanyResult(CompanyItem):
    """One company's filings (empty when the company failed)."""

    cik: int | None = None
    name: str | None = None
    filings: list[FilingRecord] = Field(default_factory=list)
    filings_found: int = 0
    filings_failed: int = 0


class SecFilingsResult(ResultModel):
    """Every requested company, in key order, with its state and filings."""

    kind: Literal[JobKind.SEC_FILINGS] = JobKind.SEC_FILINGS
    companies: list[SecCompanyResult]
