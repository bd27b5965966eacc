"""The 10-K layout corpus (tests/fixtures/sec/corpus): each layout on its real document.

The manifest's hand-established heading lists are the reference. Two notes on reading them,
checked against the filings: headings longer than about 200 characters are cut in the list
(at 211 or 220 characters), and BA lists only the first part of the heading split by a page
break ("... conforms to exacting specifications,"); the filing shows one heading continuing
"achieve planned production rate targets, ...". Such a listed heading matches a found
heading that starts with it. No list needed correcting.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from acquire.analysis import (
    ChangeStatus,
    RiskFactor,
    analyze_risk_drift,
    extract_item1a,
    segment_risk_factors,
)
from acquire.analysis.text import normalised_text, words
from tests.analysis.helpers import SEC

CORPUS = SEC / "corpus"
MANIFEST: dict[str, Any] = json.loads((CORPUS / "manifest.json").read_text())
ENTRIES = {entry["id"]: entry for entry in MANIFEST["documents"]}
LABELLED = sorted(i for i, entry in ENTRIES.items() if entry.get("headings"))


@cache
def raw(name: str) -> bytes:
    return gzip.decompress((CORPUS / ENTRIES[name]["file"]).read_bytes())


@cache
def plain(path: str) -> str:
    data: dict[str, str] = json.loads(gzip.decompress((CORPUS / path).read_bytes()))
    return data["item_1A"]


@cache
def factors(name: str) -> list[RiskFactor]:
    return segment_risk_factors(extract_item1a(raw(name))).factors


def _same(found: str, listed: str) -> bool:
    have, want = normalised_text(found), normalised_text(listed)
    cut = len(listed) >= 200 or listed.rstrip().endswith(",")
    return have == want or (cut and have.startswith(want))


@pytest.mark.parametrize("name", LABELLED)
def test_headings_are_the_hand_established_list(name: str) -> None:
    found = [f.heading for f in factors(name)]
    listed = ENTRIES[name]["headings"]
    assert len(found) == len(listed) == ENTRIES[name]["heading_count"]
    mismatched = [(f, want) for f, want in zip(found, listed, strict=True) if not _same(f, want)]
    assert mismatched == []


@pytest.mark.parametrize("name", LABELLED)
def test_no_text_is_dropped_after_the_first_heading(name: str) -> None:
    split = segment_risk_factors(extract_item1a(raw(name)))
    record = split.segmentation
    assert record.method == "html-styles"
    assert record.warnings == []
    assert record.coverage >= 0.97
    # Only the captions (a few words each) lie outside factors after the preamble.
    captions = {f.group for f in split.factors if f.group}
    outside = record.words - record.preamble_words - sum(f.words for f in split.factors)
    assert 0 <= outside <= sum(len(words(c)) for c in captions)


def test_title_case_headings_are_told_from_captions_by_structure() -> None:
    # Layout 1: AMZN's headings are Title Case without punctuation, like its captions.
    found = factors("AMZN-FY2023")
    assert found[0].heading == "We Face Intense Competition"
    assert found[0].group == "Business and Industry Risks"
    assert {f.group for f in found} == {
        "Business and Industry Risks",
        "Operating Risks",
        "Legal and Regulatory Risks",
    }
    assert all(len(f.body.split()) >= 50 for f in found)


def test_underlined_headings() -> None:
    # Layout 2: TXN underlines its headings (neither bold nor italic) under bold captions.
    split = segment_risk_factors(extract_item1a(raw("TXN-FY2023")))
    assert split.segmentation.heading_style == "underline 10pt"
    assert split.factors[11].heading == "Our margins vary."
    assert split.factors[0].group == "Risks related to our business and industry"


def test_all_italic_section_with_bold_italic_headings() -> None:
    # Layout 4: BMY's body is italic; the most frequent emphasis is the body, not headings.
    split = segment_risk_factors(extract_item1a(raw("BMY-FY2023")))
    assert split.segmentation.heading_style == "bold italic 10pt"
    assert split.factors[2].heading == "We could lose market exclusivity of a product earlier than expected."
    assert all(f.group and "Risks" in f.group for f in split.factors)


def test_running_page_header_is_removed_before_segmentation() -> None:
    # Layout 5: TMO repeats "THERMO FISHER SCIENTIFIC INC." at every page break.
    section = extract_item1a(raw("TMO-FY2023"))
    assert "THERMO FISHER SCIENTIFIC INC." in raw("TMO-FY2023").decode()
    assert all(b.text != "THERMO FISHER SCIENTIFIC INC." for b in section.blocks)
    found = factors("TMO-FY2023")
    assert all("THERMO FISHER" not in f.heading and "THERMO FISHER" not in f.body for f in found)
    assert found[0].heading.endswith("or experience cyclicality.")  # a run-in bold heading
    assert found[0].body.startswith("Our growth depends in part on the growth of the markets")


def test_heading_split_across_a_page_break_is_one_heading() -> None:
    # Layout 6: BA's second heading continues on the next page.
    heading = factors("BA-FY2023")[1].heading
    assert heading.startswith("Our Commercial Airplanes business depends on our ability")
    assert heading.endswith("and meet or exceed stringent performance and reliability standards.")
    assert "specifications, achieve planned production" in heading


def test_long_headings_are_headings() -> None:
    # Layout 6: ten of AAPL's headings are over 200 characters.
    long = [f.heading for f in factors("AAPL-FY2024") if len(f.heading) > 200]
    assert len(long) >= 10


def test_sentence_heading_that_begins_like_a_caption_is_a_factor() -> None:
    # Layout 7: WMT's "Risks associated with our suppliers ..." ends in a period, has a body.
    found = factors("WMT-FY2024")
    hit = [f for f in found if f.heading.startswith("Risks associated with our suppliers")]
    assert len(hit) == 1 and len(hit[0].body.split()) > 100


def test_cross_reference_index_10k_is_read_from_its_risk_factors_heading() -> None:
    # Layout 8: INTC's only "Item 1A" text is a row of the cross-reference index.
    section = extract_item1a(raw("INTC-FY2023"))
    assert section.method == "title-heading"
    assert section.blocks[0].text == "Risk Factors"
    assert "Form 10-K Cross-Reference Index" not in section.text
    assert "Risk Factors and Other Key Information" not in section.text  # running header
    split = segment_risk_factors(section)
    assert split.factors[0].heading == "We are in a highly competitive and rapidly changing industry."
    assert len(split.factors) >= 20 and split.segmentation.warnings == []
    assert split.segmentation.coverage >= 0.97


@pytest.mark.parametrize("entry", MANIFEST["plain_text"], ids=lambda e: Path(e["file"]).name[:18])
def test_plain_text_layout(entry: dict[str, str]) -> None:
    # Layout 9: one newline between paragraphs, run-in or stand-alone headings, bullet lines.
    text = plain(entry["file"])
    split = segment_risk_factors(extract_item1a(text))
    record = split.segmentation
    assert record.method == "plain-text"
    assert record.coverage >= 0.97 and record.warnings == []
    assert len(split.factors) >= 20
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bullets = {line for line in lines if line[:1] in "\u2022" or line[:1].islower() or line.endswith(";")}
    for factor in split.factors:
        assert len(factor.body.split()) >= 10, factor.heading  # no caption taken for a factor
        assert factor.heading not in bullets
        assert factor.heading[:1].isupper(), factor.heading
        assert not factor.heading.endswith((";", ":", ","))
        assert len(factor.heading.split()) >= 5


def test_plain_text_headings_stand_alone_or_run_in() -> None:
    nuance = segment_risk_factors(extract_item1a(plain(MANIFEST["plain_text"][2]["file"]))).factors
    assert nuance[0].heading == (
        "The markets in which we operate are highly competitive and rapidly changing and we may be "
        "unable to compete successfully."
    )
    assert nuance[0].group == "Risks Related to Our Business"
    sandisk = segment_risk_factors(extract_item1a(plain(MANIFEST["plain_text"][0]["file"]))).factors
    assert sandisk[0].heading == (
        "Our operating results may fluctuate significantly, which may adversely affect our financial "
        "condition and our stock price."
    )
    assert sandisk[0].body.startswith("Our quarterly and annual operating results have fluctuated")
    assert "competitive pricing pressures, resulting in lower average selling prices" in sandisk[0].body


def test_reworded_and_expanded_factor_is_one_modified_factor() -> None:
    pair = MANIFEST["pairs"][0]
    report = analyze_risk_drift(raw(pair["previous"]), raw(pair["current"]))
    old = next(f for f in report.previous_factors if f.heading.startswith("We may be unable to obtain debt"))
    new = next(
        f for f in report.current_factors if f.heading.startswith("We may be unable to effectively manage")
    )
    assert len(new.body.split()) > 2 * len(old.body.split())
    change = next(c for c in report.changes if new.position in c.current)
    assert change.status is ChangeStatus.MODIFIED
    assert change.previous == [old.position]
    assert not [c for c in report.changes if c.status is ChangeStatus.REMOVED and old.position in c.previous]
    assert "No material change" not in " ".join(report.recommendations)
