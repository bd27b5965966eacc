"""A worker parses each distinct filing once, however many jobs store it."""

from __future__ import annotations

import gzip
import hashlib
from datetime import date
from pathlib import Path

import pytest

from acquire.analysis.sections import Section
from acquire.jobs import documents
from acquire.sources.sec.submissions import Filing, FilingDocument

_TSLA = (
    Path(__file__).parents[1]
    / "fixtures/sec/www.sec.gov/Archives/edgar/data/1318605/000162828025003063/tsla-20241231.htm.gz"
)


def _document(content: bytes) -> FilingDocument:
    filing = Filing(
        cik=1318605,
        company="Tesla, Inc.",
        form="10-K",
        accession="0001628280-25-003063",
        filing_date=date(2025, 1, 30),
        fiscal_year=2024,
    )
    return FilingDocument(
        filing=filing,
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        source="network",
    )


async def test_the_same_bytes_are_analysed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = documents._analyse

    def counting(content: bytes, ten_k: bool) -> tuple[str, list[Section] | None]:
        calls.append(len(content))
        return real(content, ten_k)

    monkeypatch.setattr(documents, "_analyse", counting)
    monkeypatch.setattr(documents, "_memo", type(documents._memo)())
    content = gzip.decompress(_TSLA.read_bytes())
    first = await documents._analysed(_document(content), True)
    again = await documents._analysed(_document(content), True)
    assert calls == [len(content)]
    assert again == first
    assert first[1] is not None and any(section.item == "1A" for section in first[1])
    # Different bytes are analysed on their own, and the memo stays bounded.
    for n in range(documents._MEMO_SIZE + 2):
        await documents._analysed(_document(b"<html><body><p>filing %d</p></body></html>" % n), False)
    assert len(calls) == documents._MEMO_SIZE + 3
    assert len(documents._memo) == documents._MEMO_SIZE
