"""Keeping a downloaded filing in the document store: its bytes, visible text and 10-K items.

Run by the SEC job for every downloaded document. The analysis runs in a thread (it is
pure CPU and holds no locks), so the worker's other jobs keep their event loop. It is a pure
function of the document's bytes, so a worker remembers the last few results by sha256: jobs
that fetch the same popular filings (and retries of a job) do not parse them again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

from acquire.analysis.sections import Section, document_text, text_and_sections
from acquire.models import SecFilingsRequest
from acquire.serialization import dumps
from acquire.sources.sec.edgar import FilingDocument
from acquire.store.documents import DocumentStore, StoredDocument

__all__ = ["keep_filing"]


def _analyse(content: bytes, ten_k: bool) -> tuple[str, list[Section] | None]:
    if ten_k:
        try:
            text, sections = text_and_sections(content)
            return text, sections
        except ValueError:  # a full submission without a 10-K document has no items
            pass
    return document_text(content), None


_MEMO_SIZE = 16
_memo: OrderedDict[tuple[str, bool], tuple[str, list[Section] | None]] = OrderedDict()


async def _analysed(document: FilingDocument, ten_k: bool) -> tuple[str, list[Section] | None]:
    """``_analyse`` of the document, from the per-process memo when this sha256 was seen."""
    key = (document.sha256, ten_k)
    hit = _memo.get(key)
    if hit is not None:
        _memo.move_to_end(key)
        return hit
    result = await asyncio.to_thread(_analyse, document.content, ten_k)
    _memo[key] = result
    while len(_memo) > _MEMO_SIZE:
        _memo.popitem(last=False)
    return result


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def keep_filing(
    store: DocumentStore,
    org: str,
    job_id: str,
    company: str,
    request: SecFilingsRequest,
    document: FilingDocument,
    *,
    public_url: Callable[[str], str] = str,
) -> StoredDocument:
    """Store ``document`` for ``org``'s job: the whole document and its text, or (with
    ``request.sections``) only the text of those 10-K items; returns the job's reference.

    ``public_url`` turns the URL the worker fetched (perhaps a mirror) into the one recorded.
    """
    filing = document.filing
    ten_k = filing.form.upper().startswith("10-K")
    text, sections = await _analysed(document, ten_k)
    wanted: Sequence[str] | None = request.sections if sections is not None else None
    objects: dict[str, bytes] = {}
    ref = StoredDocument(
        accession=filing.accession,
        sha256=document.sha256,
        size=document.size,
        content_type=document.content_type or "application/octet-stream",
        company=company,
        form=filing.form,
        fiscal_year=filing.fiscal_year,
        filing_date=filing.filing_date.isoformat(),
        document_url=None if filing.document_url is None else public_url(filing.document_url),
        sections=list(wanted) if wanted is not None else None,
    )
    if wanted is None:
        objects[document.sha256] = document.content
        encoded = text.encode()
        text_sha = _sha(encoded)
        objects[text_sha] = encoded
        ref.uri = store.blobs.uri(document.sha256)
        ref.text_sha256, ref.text_uri = text_sha, store.blobs.uri(text_sha)
    if sections is not None:
        kept = [s.to_dict() for s in sections if wanted is None or s.item in wanted]
        body = dumps({"accession": filing.accession, "sections": kept}).encode()
        sections_sha = _sha(body)
        objects[sections_sha] = body
        ref.sections_sha256, ref.sections_uri = sections_sha, store.blobs.uri(sections_sha)
    await store.put(org, job_id, ref, objects)
    return ref
