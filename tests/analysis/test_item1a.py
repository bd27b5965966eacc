"""Item 1A extraction: the real section, without TOC noise, from every recorded 10-K."""

from __future__ import annotations

import re

import pytest

from acquire.analysis import Item1ANotFoundError, extract_item1a, split_risk_factors
from acquire.analysis.blocks import Block
from acquire.analysis.items import heading_span, item_of, item_order
from tests.analysis.helpers import APPLE_8K_TXT, DOCUMENTS, FACTORS, build_10k, build_txt_submission, load

PAGE_NUMBER = re.compile(r"^\s*(?:page\s*)?\d{1,3}\s*$", re.IGNORECASE | re.MULTILINE)
LATER_ITEM = re.compile(r"^\s*item\s*(?:1b|1c|2)\b", re.IGNORECASE | re.MULTILINE)

# Word counts of each section, to catch a section that silently shrinks or swallows Item 1B/2.
# Measured once; each lies between the section's first and last risk factor text by inspection.
SECTION_WORDS = {
    "nvda_fy2023": (12_000, 14_500),
    "nvda_fy2024": (15_000, 17_000),
    "nvda_fy2025": (15_500, 17_500),
    "tsla_fy2023": (11_000, 13_000),
    "tsla_fy2024": (11_000, 13_000),
    "meta_fy2023": (26_500, 29_000),
    "meta_fy2024": (27_500, 30_000),
}

# The last words of each section (the end of the last risk factor), which precede Item 1B.
LAST_WORDS = {
    "nvda_fy2023": "to cause us to take other corporate actions they desire.",
    "nvda_fy2024": "to cause us to take other corporate actions they desire.",
    "nvda_fy2025": "to cause us to take other corporate actions they desire.",
    "tsla_fy2023": "some investors are willing to pay for our common stock.",
    "tsla_fy2024": "some investors are willing to pay for our common stock.",
    "meta_fy2023": "certain litigation against us can only be brought in Delaware.",
    "meta_fy2024": "certain litigation against us can only be brought in Delaware.",
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_section_is_the_real_item_1a_without_noise(name: str) -> None:
    section = extract_item1a(load(name))
    text = section.text
    assert section.method == "toc-anchor"
    assert re.match(r"item\s*1a\.?\s*risk factors", text, re.IGNORECASE), text[:80]
    assert text.rstrip().endswith(LAST_WORDS[name])
    low, high = SECTION_WORDS[name]
    assert low <= len(text.split()) <= high
    assert "table of contents" not in text.lower()
    assert not PAGE_NUMBER.search(text)
    assert not LATER_ITEM.search(text)
    assert "unresolved staff comments" not in text.lower()


@pytest.mark.parametrize("name", ["nvda_fy2024", "tsla_fy2023", "meta_fy2023"])
def test_heading_fallback_finds_the_same_section_without_anchors(name: str) -> None:
    html = load(name).decode("utf-8")
    without_links = html.replace('href="#', 'data-x="#')
    by_anchor = extract_item1a(html)
    by_heading = extract_item1a(without_links)
    assert by_heading.method == "heading"
    assert len(split_risk_factors(by_heading)) == len(split_risk_factors(by_anchor))
    # Both start at the Item 1A heading and end at the same last sentence.
    assert by_heading.text.split()[:6] == by_anchor.text.split()[:6]
    assert by_heading.text.split()[-8:] == by_anchor.text.split()[-8:]


def test_tesla_misdirected_item_1a_link_is_not_followed() -> None:
    # Tesla's FY2023 TOC links "Item 1A." to the balance sheet; only "Risk Factors" is right.
    html = load("tsla_fy2023").decode("utf-8")
    assert '#i605b1b87e9dd4fc1a8af0ddafef749a2_73">Item 1A.' in html
    section = extract_item1a(html)
    assert "Consolidated Balance Sheets" not in section.text[:2000]
    assert section.text.startswith("ITEM 1A. RISK FACTORS")


def test_synthetic_document_drops_hidden_header_toc_and_page_furniture() -> None:
    section = extract_item1a(build_10k(FACTORS))
    assert section.method == "toc-anchor"
    assert section.text.startswith("Item 1A. Risk Factors\nInvesting in our stock")
    assert "hidden header" not in section.text
    assert "Table of Contents" not in section.text
    assert not PAGE_NUMBER.search(section.text)
    assert section.text.endswith(FACTORS[-1][1])


def test_heading_search_and_hidden_content() -> None:
    # Without TOC links the whole document is searched. Hidden (display:none) content, like
    # the ix:header of inline XBRL, is dropped even inside the section.
    body = FACTORS[0][1]
    hidden = '<div style="display:none"><span>dei:DocumentFiscalYearFocus 2024</span></div>'
    html = build_10k(FACTORS, toc=False).replace(f"{body}</span></div>", f"{body}</span></div>{hidden}", 1)
    assert hidden in html
    section = extract_item1a(html)
    assert section.method == "heading"
    assert "hidden header" not in section.text
    assert "dei:" not in section.text
    assert section.text.startswith("Item 1A. Risk Factors\nInvesting in our stock")
    factors = split_risk_factors(section)
    assert len(factors) == len(FACTORS)
    assert factors[0].body == body


def test_plain_text_full_submission() -> None:
    section = extract_item1a(build_txt_submission(FACTORS).encode("ascii"))
    assert section.method == "plain-text"
    assert section.text.startswith("ITEM 1A. RISK FACTORS")
    assert "UNRESOLVED STAFF" not in section.text
    factors = split_risk_factors(section)
    assert [f.heading for f in factors] == [heading for heading, _ in FACTORS]
    assert factors[0].body == FACTORS[0][1]


def test_eight_k_full_submission_has_no_item_1a() -> None:
    raw = load(APPLE_8K_TXT)
    assert raw.startswith(b"<SEC-DOCUMENT>")
    with pytest.raises(Item1ANotFoundError, match=r"no Item 1A: .* no 10-K document .*types: 8-K, EX-1\.1"):
        extract_item1a(raw)


def test_full_submission_with_an_html_10k_document() -> None:
    envelope = (
        "<SEC-DOCUMENT>0000000000-24-000002.txt : 20240201\n<DOCUMENT>\n<TYPE>EX-21\n<TEXT>\nSubsidiaries"
        "\n</TEXT>\n</DOCUMENT>\n<DOCUMENT>\n<TYPE>10-K\n<SEQUENCE>1\n<TEXT>\n{html}\n</TEXT>\n</DOCUMENT>"
        "\n</SEC-DOCUMENT>\n"
    )
    section = extract_item1a(envelope.format(html=build_10k(FACTORS)))
    assert section.method == "toc-anchor"
    assert [f.heading for f in split_risk_factors(section)] == [heading for heading, _ in FACTORS]


def test_document_without_item_1a_raises() -> None:
    with pytest.raises(Item1ANotFoundError):
        extract_item1a("<html><body><div>Item 7. Management's Discussion</div></body></html>")
    assert issubclass(Item1ANotFoundError, ValueError)


def test_item_headings_are_found_for_any_item() -> None:
    # The locator is generic: "Item 7" is found the way "Item 1A" is (issue 17 reuses it).
    assert [
        item_of(t) for t in ("ITEM 1A. RISK FACTORS", "Item 7A.", "Item 1 and 2", "Item 16. Summary")
    ] == [
        "1A",
        "7A",
        "1",
        "16",
    ]
    assert (
        item_of("Item 7 of this report discusses our results at length, by segment and by quarter too.")
        is None
    )
    assert sorted(["2", "1B", "16", "1A", "7A", "1", "7"], key=item_order) == [
        "1",
        "1A",
        "1B",
        "2",
        "7",
        "7A",
        "16",
    ]
    texts = ["Item 7. MD&A", "TOC row", "Item 8. Statements", "Item 7. Management's Discussion", "x" * 2000]
    blocks = [Block(text=t) for t in [*texts, "Item 7A. Market Risk", "y"]]
    span = heading_span(blocks, "7")
    assert span is not None and [b.text for b in span] == ["Item 7. Management's Discussion", "x" * 2000]


def test_text_10k_wrapped_in_pre_is_read_as_plain_text() -> None:
    # Older EDGAR HTML filings hold a text 10-K inside <pre>: one HTML block, lines as layout.
    submission = build_txt_submission(FACTORS)
    body = submission[submission.index("<TEXT>") + 6 : submission.index("</TEXT>")]
    section = extract_item1a(f"<html><body><pre>{body}</pre></body></html>")
    assert section.method == "plain-text"
    assert [f.heading for f in split_risk_factors(section)] == [heading for heading, _ in FACTORS]
