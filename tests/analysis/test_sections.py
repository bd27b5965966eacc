"""Every 10-K item of every 10-K in the fixtures: found, in order, from its heading to the next item.

The expected items were established by reading each filing's table of contents and headings.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from acquire.analysis.items import item_of
from acquire.analysis.sections import (
    ITEM_TITLES,
    ITEMS,
    Section,
    document_text,
    extract_sections,
    text_and_sections,
)
from acquire.models import TEN_K_ITEMS

FIXTURES = Path(__file__).parent.parent / "fixtures"
ALL = " ".join(ITEMS)
ARCHIVES = "sec/www.sec.gov/Archives/edgar/data"
# Item 1C (cybersecurity) exists for fiscal years ending after 2023-12-15, Item 9C since 2022.
EXPECTED: dict[str, str] = {
    "sec/corpus/html/AAPL-FY2024.html.gz": ALL,
    "sec/corpus/html/AMZN-FY2023.html.gz": ALL,
    "sec/corpus/html/BA-FY2023.html.gz": ALL,
    "sec/corpus/html/BA-FY2024.html.gz": ALL,
    "sec/corpus/html/BMY-FY2023.html.gz": ALL,
    "sec/corpus/html/GOOG-FY2023.html.gz": ALL,
    "sec/corpus/html/HD-FY2023.html.gz": ALL,
    "sec/corpus/html/IBM-FY2023.html.gz": ALL,
    "sec/corpus/html/INTC-FY2023.html.gz": ALL,
    "sec/corpus/html/TMO-FY2023.html.gz": ALL,
    # TXN's 10-K has no Item 16 (Form 10-K summary) heading at all.
    "sec/corpus/html/TXN-FY2023.html.gz": ALL.removesuffix(" 16"),
    "sec/corpus/html/WMT-FY2024.html.gz": ALL,
    # 2017: before Items 1C and 9C; Item 6 was still "Selected Financial Data".
    f"{ARCHIVES}/1009672/000156459018004771/crr-10k_20171231.htm.gz": ALL.replace(" 1C", "").replace(
        " 9C", ""
    ),
    f"{ARCHIVES}/1045810/000104581023000017/nvda-20230129.htm.gz": ALL.replace(" 1C", ""),  # FY2023: no 1C
    f"{ARCHIVES}/1045810/000104581024000029/nvda-20240128.htm.gz": ALL,
    f"{ARCHIVES}/1045810/000104581025000023/nvda-20250126.htm.gz": ALL,
    f"{ARCHIVES}/1318605/000162828024002390/tsla-20231231.htm.gz": ALL,
    f"{ARCHIVES}/1318605/000162828025003063/tsla-20241231.htm.gz": ALL,
    f"{ARCHIVES}/1326801/000132680124000012/meta-20231231.htm.gz": ALL,
    "sec/unplaced/meta-20241231_10-K_FY2024_filed-2025-01-30.htm.gz": ALL,
}
# Cross-reference-index layout: these items are sections under their captions, elsewhere the index row.
# INTC's Item 1C is its "Cybersecurity" heading on page 65 (the page the index row gives), and
# Item 9A its "Controls and Procedures" on page 115: the table of contents and the index read
# these captions too, which does not make them running headers.
TITLED = {"sec/corpus/html/INTC-FY2023.html.gz": {"1A", "1C", "2", "3", "7", "7A", "9A"}}
# Large items that are never a stub when the filing states them in the 10-K itself (Item 8
# often only points to the F-pages at the end).
LARGE = {"1", "1A", "7"}
# ... except where the filing incorporates them by reference (IBM: its annual report).
INCORPORATED = {"sec/corpus/html/IBM-FY2023.html.gz": {"7", "7A", "8"}}
# BMY prints the auditor's report on internal control after Item 9C's "Not applicable.": with
# no heading of its own it runs into Item 9C.
STATED_9C = {"sec/corpus/html/BMY-FY2023.html.gz"}
_PART_ONLY = re.compile(r"^\s*(?:part\s+[ivx]+\b[^\n]*\s*)*$", re.IGNORECASE)


def _sections(name: str) -> tuple[str, list[Section]]:
    raw = gzip.decompress((FIXTURES / name).read_bytes())
    return document_text(raw), extract_sections(raw)


def test_the_items_are_form_10ks() -> None:
    assert ITEMS == TEN_K_ITEMS and len(ITEM_TITLES) == 23


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_item_in_order_from_its_heading_to_the_next(name: str) -> None:
    text, sections = _sections(name)
    assert " ".join(s.item for s in sections) == EXPECTED[name]
    titled = TITLED.get(name, set())
    for n, section in enumerate(sections):
        assert section.text == text[section.start : section.end]
        assert section.title
        if section.item in titled:
            assert section.text.split("\n", 1)[0].lower() in ITEM_TITLES[section.item].lower()
            assert len(section.text) > 600, section.item
            continue
        # starts at a heading naming the item (the real one: see LARGE below), ends at the next
        first_line = re.sub(r"^\W*part\s+[ivx]+\W*", "", section.text.split("\n", 1)[0], flags=re.IGNORECASE)
        assert item_of(" ".join(first_line.split()[:14])) == section.item, (section.item, first_line)
        if n + 1 < len(sections) and not titled:
            between = text[section.end : sections[n + 1].start]
            assert _PART_ONLY.match(between), (section.item, between[:200])
        if section.item in LARGE - INCORPORATED.get(name, set()) and name not in TITLED:
            assert section.end - section.start > 5000, (section.item, section.text[:300])
    assert [s.start for s in sections if s.item not in titled] == sorted(
        s.start for s in sections if s.item not in titled
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_omitted_and_incorporated_items_say_so(name: str) -> None:
    _, sections = _sections(name)
    status = {s.item: s.status for s in sections}
    if "9C" in status and name not in TITLED and name not in STATED_9C:  # "Not applicable."
        assert status["9C"] in ("omitted", "incorporated_by_reference"), name
    if "6" in status and "crr" not in name and "nvda-2023" not in name:
        assert status["6"] == "omitted"  # "[Reserved]" since fiscal 2021 (crr: selected financial data)
    if name not in TITLED and "IBM" not in name:
        # Part III comes from the proxy statement in every one of these filings
        assert status["11"] == "incorporated_by_reference", name
    for item in INCORPORATED.get(name, set()):
        assert status[item] == "incorporated_by_reference"
    assert status.get("1A") == "present" and status.get("1") == "present"


def test_cross_reference_index_sections_run_from_their_heading_to_the_next_of_its_level() -> None:
    text, sections = _sections("sec/corpus/html/INTC-FY2023.html.gz")
    by_item = {s.item: s for s in sections}
    # Market risk, then cybersecurity, then properties: one after the other, each under its heading.
    assert by_item["7A"].end + 1 == by_item["1C"].start and by_item["1C"].end + 1 == by_item["2"].start
    assert by_item["1C"].text.startswith("Cybersecurity\nWe face significant and persistent cybersecurity")
    assert "Page 65-66" not in by_item["1C"].text  # the index row
    # MD&A starts at its heading, not at the table of contents row that reads the same two lines.
    assert "Segment Trends and Results 21" not in by_item["7"].text
    assert by_item["7"].text.startswith("Management's Discussion and Analysis\nOur Products\nWe are a global")
    # Legal proceedings (a note to the financial statements) end at the next heading: Key Terms.
    assert text[by_item["3"].end + 1 :].startswith("Key Terms\n")
    assert by_item["9A"].text.startswith("Controls and Procedures\nInherent Limitations")
    assert text[by_item["9A"].end + 1 :].startswith("Exhibits\n")


_HEADING = '<div><span style="font-size:14pt;color:#0068b5">{}</span></div>'
_RUNNING_HEADER = '<div><span style="font-size:8pt">{}</span></div>'
_PARAGRAPH = (
    '<div><span style="font-size:9pt">Paragraph {} on {}: we describe at some length how this matters to '
    "our company, its customers and its investors, and what we do about it every year.</span></div>"
)


def _annual_report_10k() -> str:
    """A cross-reference-index 10-K: contents, captioned sections with running headers, the index."""
    # A contents row: its caption in the row's text, its page number in a block of its own.
    contents = [("Our Business", 3), ("Risk Factors", 6), ("Cybersecurity", 10), ("Properties", 11)]
    parts = [
        "<table>",
        *(f"<tr><td>{c}</td><td><div>{page}</div></td></tr>" for c, page in contents),
        "</table>",
    ]
    for caption, count, header in (
        ("Our Business", 30, "Annual Report"),
        ("Risk Factors", 30, "Risk Factors and Other Information"),
        ("Cybersecurity", 4, "Risk Factors and Other Information"),
        ("Properties", 5, "Risk Factors and Other Information"),
    ):
        parts.append(_HEADING.format(caption))
        for n in range(count):
            if n % 8 == 0:  # a new page
                parts.append(_RUNNING_HEADER.format(header))
            parts.append(_PARAGRAPH.format(n, caption))
    rows = [("Item 1. Business", "Pages 3-5"), ("Item 1A. Risk Factors", "Pages 6-9")]
    rows += [("Item 1B. Unresolved Staff Comments", "None"), ("Item 2. Properties", "Page 11")]
    index = [f"<tr><td>{item}</td><td>{pages}</td></tr>" for item, pages in rows]
    # The index sets Item 1C over three lines (a row of three blocks).
    index.insert(
        3, "<tr><td><div>Item 1C.</div></td><td><div>Cybersecurity</div></td><td><div>Page 10</div></td></tr>"
    )
    parts += [_HEADING.format("Form 10-K Cross-Reference Index"), "<table>", *index, "</table>"]
    return "<html><body>" + "".join(parts) + "</body></html>"


def test_a_caption_the_contents_and_the_index_also_read_heads_its_section() -> None:
    # "Cybersecurity" is read three times (contents, heading, index) and is no running header.
    document = _annual_report_10k()
    by_item = {s.item: s for s in extract_sections(document)}
    assert list(by_item) == ["1", "1A", "1B", "1C", "2"]
    for item, caption, count in (
        ("1A", "Risk Factors", 30),
        ("1C", "Cybersecurity", 4),
        ("2", "Properties", 5),
    ):
        lines = by_item[item].text.split("\n")
        assert lines[0] == caption and len(lines) == count + 1, (item, lines[:2], lines[-2:])
        assert all(line.startswith(f"Paragraph {n} on {caption}:") for n, line in enumerate(lines[1:]))
    assert by_item["1"].text == "Item 1. Business Pages 3-5"  # "Our Business" is not its caption
    assert by_item["1B"].status == "omitted"


def test_a_section_never_starts_at_a_table_of_contents_row() -> None:
    text, sections = _sections("sec/corpus/html/AAPL-FY2024.html.gz")
    by_item = {s.item: s for s in sections}
    toc = text.find("Item 1A")  # the first mention is the table of contents
    assert toc < by_item["1"].start
    assert "Risk Factors" in by_item["1A"].title and by_item["1A"].end - by_item["1A"].start > 50_000


def test_plain_text_10k_sections() -> None:
    body = "\n".join(
        [
            "PART I",
            "Item 1. Business",
            *[
                f"We make {n} things and sell them to customers around the world every day."
                for n in range(40)
            ],
            "Item 1A. Risk Factors",
            *[f"Our business could be harmed by risk number {n}, which we describe here." for n in range(40)],
            "Item 1B. Unresolved Staff Comments",
            "None.",
            "Item 2. Properties",
            *[
                f"We lease {n} offices and own two factories in several states, all of them in use."
                for n in range(10)
            ],
        ]
    )
    document = (
        "TABLE OF CONTENTS\nItem 1. Business 3\nItem 1A. Risk Factors 9\nItem 2. Properties 20\n" + body
    )
    sections = extract_sections(document)
    assert [(s.item, s.status) for s in sections] == [
        ("1", "present"),
        ("1A", "present"),
        ("1B", "omitted"),
        ("2", "present"),
    ]
    assert sections[0].text.startswith("Item 1. Business\nWe make 0 things")


def test_a_submission_without_a_10k_has_text_but_no_items() -> None:
    raw = gzip.decompress((FIXTURES / "sec/unplaced/aapl-8k-20191115-full-submission.txt.gz").read_bytes())
    assert "Apple" in document_text(raw)
    with pytest.raises(ValueError, match="no 10-K document"):
        extract_sections(raw)
    text, sections = text_and_sections(gzip.decompress((FIXTURES / next(iter(EXPECTED))).read_bytes()))
    assert sections and all(s.text == text[s.start : s.end] for s in sections)
