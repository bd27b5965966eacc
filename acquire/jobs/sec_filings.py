"""The SEC filings job (``sec_filings``).

Steps: resolve each company (ticker or CIK), list its filings of the requested forms and
fiscal years (older submission pages only when needed), download each primary document,
record it, and publish it to ``SEC_TOPIC``. Every company is its own arq item job, so a
request for many companies spreads across the whole fleet; a failing filing is recorded on
its company's item without stopping the others.
"""

from __future__ import annotations

from typing import Any

from selectolax.lexbor import LexborHTMLParser

from acquire.errors import TransientError
from acquire.jobs.documents import keep_filing
from acquire.jobs.per_company import per_company_spec
from acquire.models import ItemState, JobKind, SecFilingsRequest
from acquire.results import FilingRecord, SecCompanyResult, SecFilingsResult
from acquire.runtime.run import JobContext, JobSpec
from acquire.sources.sec.edgar import EdgarClient, FilingDocument

__all__ = ["SPEC", "text_length"]


def text_length(document: FilingDocument) -> int:
    """Characters of visible text in the document (HTML stripped; plain text as is)."""
    if document.content_type and "html" not in document.content_type:
        return len(document.text)
    if document.content.lstrip()[:1] != b"<":
        return len(document.text)
    body = LexborHTMLParser(document.content).body
    return len(body.text(separator=" ", strip=True)) if body is not None else 0


async def run_company(
    job: JobContext, request: SecFilingsRequest, key: str, payload: dict[str, Any]
) -> SecCompanyResult:
    edgar: EdgarClient = job.services.edgar
    store = job.services.documents
    ref = await edgar.resolve(payload["company"])
    filings = await edgar.filings(
        ref.cik, forms=request.form_types, years=request.years, include_amendments=request.include_amendments
    )
    records: list[FilingRecord] = []
    documents = await edgar.download_all(filings) if request.download else [None] * len(filings)
    _retry_transient(job, documents)
    for filing, document in zip(filings, documents, strict=True):
        fields: dict[str, Any] = dict(filing)
        if isinstance(document, Exception):
            fields.update(status="failed", error=str(document), error_type=type(document).__name__)
        elif document is not None:
            fields.update(
                status="completed",
                size=document.size,
                sha256=document.sha256,
                text_length=text_length(document),
                stored_in=None if job.settings.sec_cache == "none" else f"{job.settings.sec_cache} cache",
                source=document.source,
                document_id=document.sha256,
            )
            if store is not None:
                kept = await keep_filing(
                    store, job.org, job.job_id, key, request, document, public_url=job.services.redact.text
                )
                fields.update(
                    document_uri=kept.uri,
                    text_uri=kept.text_uri,
                    sections_uri=kept.sections_uri,
                    store_uri=kept.uri or kept.sections_uri,
                )
        else:
            fields["status"] = "listed"
        record = FilingRecord.model_validate(fields)
        records.append(record)
        filing_json = record.model_dump(mode="json", exclude_none=True)
        await job.publish(job.settings.sec_topic, {"company": key, "cik": ref.cik, "filing": filing_json})
    failed = sum(1 for r in records if r.status == "failed")
    if records and failed == len(records):
        raise RuntimeError(f"all {failed} filings of {key} failed: {records[0].error}")
    return SecCompanyResult(
        company=key,
        state=ItemState.COMPLETED,
        cik=ref.cik,
        name=ref.name,
        filings=records,
        filings_found=len(records),
        filings_failed=failed,
    )


def _retry_transient(job: JobContext, documents: list[FilingDocument | Exception] | list[None]) -> None:
    """Raise the first transient download failure while the item has attempts left.

    Recording it instead would end the company's item with a filing that a retry fetches; the
    item retries before anything is published, so a topic consumer never sees a filing twice,
    and the documents already fetched come back from the HTTP cache. On the last attempt the
    failures are recorded per filing.
    """
    if job.attempt >= job.settings.acquire_max_tries:
        return
    for document in documents:
        if isinstance(document, TransientError):
            raise document


SPEC: JobSpec[SecFilingsRequest, SecFilingsResult] = per_company_spec(
    JobKind.SEC_FILINGS,
    run_company,
    SecCompanyResult,
    lambda companies: SecFilingsResult(companies=companies),
    totals={"filings": lambda c: c.filings_found, "filings_failed": lambda c: c.filings_failed},
)
