"""The nine Item 1A layouts on minimal synthetic documents, and the segmentation record.

Each test builds the smallest document showing one layout (the corpus tests run the same
layouts on real filings) and checks the factors, groups and bodies exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from acquire.analysis import (
    Item1ANotFoundError,
    analyze_sections,
    extract_item1a,
    segment_risk_factors,
    split_risk_factors,
)
from acquire.analysis.models import RiskFactor, Segmentation
from tests.analysis.helpers import FACTORS

HEADINGS = [h for h, _ in FACTORS]
BODIES = [b for _, b in FACTORS]
BOLD = "font-weight:700"
INTRO = (
    "<div><span>Investing in our securities involves risks. You should consider the risks below, "
    "together with the other information in this report, before you decide to invest.</span></div>"
)


def _document(section: str, *, item: str = "Item 1A. Risk Factors") -> str:
    return (
        "<html><body><div><span style='font-weight:700'>Item 1. Business</span></div>"
        "<div><span>We design widgets. Item 1A describes the risks.</span></div>"
        f"<div><span style='font-weight:700'>{item}</span></div>{INTRO}{section}"
        "<div><span style='font-weight:700'>Item 1B. Unresolved Staff Comments</span></div>"
        "<div><span>None.</span></div></body></html>"
    )


def _split(document: str) -> list[RiskFactor]:
    return split_risk_factors(extract_item1a(document))


def _div(text: str, style: str = "") -> str:
    return f'<div><span style="{style}">{text}</span></div>' if style else f"<div><span>{text}</span></div>"


def test_title_case_headings_and_captions_are_told_apart_by_structure() -> None:
    # Layout 1: captions and headings both short, unpunctuated Title Case, in the same style.
    titles = ["We Face Intense Competition", "Our Suppliers Expose Us to Risks", "We Have Security Risks"]
    section = (
        _div("Business and Industry Risks", BOLD)
        + _div(titles[0], BOLD)
        + _div(BODIES[0])
        + _div(titles[1], BOLD)
        + _div(BODIES[1])
        + _div("Operating Risks", BOLD)
        + _div(titles[2], BOLD)
        + _div(BODIES[2])
        + _div(BODIES[3])
        + "".join(_div(h.rstrip(".").title(), BOLD) + _div(b) for h, b in FACTORS[4:])
    )
    factors = _split(_document(section))
    assert [f.heading for f in factors[:3]] == titles
    assert [f.group for f in factors] == ["Business and Industry Risks"] * 2 + ["Operating Risks"] * 6
    assert factors[2].body == f"{BODIES[2]}\n{BODIES[3]}"
    assert len(factors) == 8


@pytest.mark.parametrize(
    "wrap", [lambda h: f"<div><u>{h}</u></div>", lambda h: _div(h, "text-decoration: underline")]
)
def test_underlined_headings(wrap: object) -> None:
    # Layout 2: headings underlined (tag or CSS), neither bold nor italic; captions bold.
    assert callable(wrap)
    section = _div("Risks Related to Our Business", BOLD) + "".join(wrap(h) + _div(b) for h, b in FACTORS)
    split = segment_risk_factors(extract_item1a(_document(section)))
    assert [f.heading for f in split.factors] == HEADINGS
    assert [f.body for f in split.factors] == BODIES
    assert {f.group for f in split.factors} == {"Risks Related to Our Business"}
    assert split.segmentation.heading_style == "underline"


@pytest.mark.parametrize("dash", [" - ", " \u2014 ", "\u2014", " \u2013 "])
def test_run_in_headings_closed_by_a_dash(dash: str) -> None:
    # Layout 3: "*Heading* - Body ..."; the dash may sit inside or after the emphasis.
    unpunctuated = [h.rstrip(".") for h in HEADINGS]
    inside = "".join(
        f"<p><b>{h}{dash.rstrip()}</b> {b}</p>" if n % 2 else f"<p><b>{h}</b>{dash}{b}</p>"
        for n, (h, b) in enumerate(zip(unpunctuated, BODIES, strict=True))
    )
    factors = _split(_document(inside))
    assert [f.heading for f in factors] == unpunctuated
    assert [f.body for f in factors] == BODIES


def test_run_in_headings_closed_by_punctuation() -> None:
    # A colon or a full stop closes a run-in heading too (older filings, Title Case colons).
    body = "".join(f"<p><i>{h[:-1]}:</i> {b}</p>" for h, b in FACTORS)
    factors = _split(_document(body))
    assert [f.heading for f in factors] == [f"{h[:-1]}:" for h in HEADINGS]
    assert [f.body for f in factors] == BODIES


def test_all_italic_section_with_bold_italic_headings() -> None:
    # Layout 4: italics is the body's type; bold italic marks the headings. Italic body text
    # outweighs the headings by far, so frequency alone would pick the body as headings.
    italic, heading = "font-style:italic", "font-style:italic;font-weight:bold"
    section = "".join(_div(h, heading) + _div(b, italic) + _div(b, italic) for h, b in FACTORS)
    split = segment_risk_factors(extract_item1a(_document(section)))
    assert [f.heading for f in split.factors] == HEADINGS
    assert [f.body for f in split.factors] == [f"{b}\n{b}" for b in BODIES]
    assert split.segmentation.heading_style == "bold italic"


def test_running_headers_and_footers_are_removed() -> None:
    # Layout 5: company name, "| 2024 Form 10-K | page", page numbers and back-links at
    # every page break; never a factor, a group or body text.
    parts = []
    for n, (h, b) in enumerate(FACTORS):
        parts.append(_div(h, BOLD) + _div(b))
        if n % 2:
            parts.append(
                _div(f"ACME Corp. | 2024 Form 10-K | {20 + n}")
                + '<hr style="page-break-after:always"/>'
                + _div("ACME CORPORATION", BOLD)
                + _div("Table of Contents")
                + _div(str(20 + n))
            )
    factors = _split(_document("".join(parts)))
    assert [f.heading for f in factors] == HEADINGS
    assert [f.body for f in factors] == BODIES
    assert all(f.group is None for f in factors)


def test_running_headers_of_a_two_page_section_are_removed() -> None:
    # A short section spans two page breaks: each header appears twice in it. The numbered
    # footer differs only in its page number; the bold company name repeats all over the
    # document's pages (here: five other pages before Item 1).
    def page_break(n: int) -> str:
        return _div(f"Acme Corp. | 2024 Form 10-K | {n}") + _div("ACME CORPORATION", BOLD)

    section = "".join(
        _div(h, BOLD) + _div(b) + (page_break(12 + n) if n in (2, 5) else "")
        for n, (h, b) in enumerate(FACTORS)
    )
    other_pages = _div("ACME CORPORATION", BOLD) * 5
    document = _document(section).replace("<html><body>", f"<html><body>{other_pages}")
    factors = _split(document)
    assert [f.heading for f in factors] == HEADINGS
    assert [f.body for f in factors] == BODIES
    assert all(f.group is None for f in factors)


def test_heading_split_by_a_page_break_and_long_headings() -> None:
    # Layout 6: one heading over two blocks with page furniture between; a 160-word heading.
    long_heading = (
        " ".join(["Our results could suffer if demand for our products declines, and"] * 16) + " more."
    )
    split_heading = (
        _div("Our business depends on our ability to maintain a healthy production system,", BOLD)
        + _div("ACME CORPORATION | 7")
        + _div("ACME CORPORATION | 8")
        + _div("ACME CORPORATION | 9")
        + _div("achieve planned production rates and meet stringent quality standards.", BOLD)
    )
    section = split_heading + _div(BODIES[0]) + _div(long_heading, BOLD) + _div(BODIES[1])
    section += "".join(_div(h, BOLD) + _div(b) for h, b in FACTORS[2:])
    factors = _split(_document(section))
    assert factors[0].heading == (
        "Our business depends on our ability to maintain a healthy production system, achieve planned "
        "production rates and meet stringent quality standards."
    )
    assert factors[0].body == BODIES[0]
    assert factors[1].heading == long_heading and len(long_heading.split()) > 150
    assert [f.heading for f in factors[2:]] == HEADINGS[2:]


def test_sub_headings_and_two_block_headings_in_the_heading_style() -> None:
    # Sentence headings; one factor has short sub-headings in the same style (they stay in
    # its body); one heading goes on in a second block before its body (one heading).
    section = "".join(_div(h, BOLD) + _div(b) for h, b in FACTORS[:4])
    section += _div("Data Privacy", BOLD) + _div(BODIES[4]) + _div("Export Controls", BOLD) + _div(BODIES[5])
    second = "We may also be unable to pass those costs on to customers."
    section += _div(HEADINGS[6], BOLD) + _div(second, BOLD) + _div(BODIES[6])
    section += "".join(_div(h, BOLD) + _div(b) for h, b in FACTORS[7:])
    factors = _split(_document(section))
    assert [f.heading for f in factors] == [*HEADINGS[:4], f"{HEADINGS[6]} {second}", *HEADINGS[7:]]
    assert factors[3].body == "\n".join([BODIES[3], "Data Privacy", BODIES[4], "Export Controls", BODIES[5]])
    assert factors[4].body == BODIES[6]


def test_sentence_heading_beginning_like_a_caption_is_a_factor() -> None:
    # Layout 7: "Risks associated with ..." is a caption's opening, but this one is a sentence
    # with a body: a factor. The real caption is followed by a heading.
    risky = "Risks associated with our suppliers could materially adversely affect our financial performance."
    section = (
        _div("Risks Related to Our Operations", BOLD)
        + _div(HEADINGS[0], BOLD)
        + _div(BODIES[0])
        + _div(risky, BOLD)
        + _div(BODIES[1])
        + "".join(_div(h, BOLD) + _div(b) for h, b in FACTORS[2:])
    )
    factors = _split(_document(section))
    assert [f.heading for f in factors] == [HEADINGS[0], risky, *HEADINGS[2:]]
    assert factors[1].body == BODIES[1]
    assert {f.group for f in factors} == {"Risks Related to Our Operations"}


def test_cross_reference_index_layout() -> None:
    # Layout 8: the section is under a plain "Risk Factors" heading in the annual report's
    # heading type; "Item 1A" appears only as a row of the index at the end.
    big = "font-size:14pt;color:#0068b5"
    sub = "font-size:12pt;color:#0068b5"
    body = "font-size:9pt"
    factors_html = "".join(_div(h, sub) + _div(b, body) for h, b in FACTORS)
    document = (
        "<html><body>"
        + _div("Contents", big)
        + "<table><tr><td>Risk Factors</td><td>12</td></tr><tr><td>Properties</td><td>30</td></tr></table>"
        + _div("Business Overview", big)
        + _div("We design widgets for many industries around the world.", body)
        + _div("Risk Factors", big)
        + _div("The following risks could affect our business and our share price.", body)
        + factors_html
        + _div("Properties", big)
        + _div("We own our headquarters.", body)
        + _div("Form 10-K Cross-Reference Index", big)
        + "<table><tr><td>Item 1A. Risk Factors</td><td>Pages 12-20</td></tr>"
        "<tr><td>Item 1B. Unresolved Staff Comments</td><td>None</td></tr>"
        "<tr><td>Item 2. Properties</td><td>Page 30</td></tr></table></body></html>"
    )
    section = extract_item1a(document)
    assert section.method == "title-heading"
    assert section.text.startswith("Risk Factors\nThe following risks")
    assert "We own our headquarters" not in section.text
    factors = split_risk_factors(section)
    assert [f.heading for f in factors] == HEADINGS
    assert [f.body for f in factors] == BODIES
    # Factor headings in the very type of the section's title do not end the section.
    same = document.replace(f'style="{sub}"', f'style="{big}"')
    assert [f.heading for f in split_risk_factors(extract_item1a(same))] == HEADINGS


def test_item_1a_incorporated_by_reference_raises_saying_so() -> None:
    stub = (
        '<div><span>The information under "Risk Factors" on pages 20 to 31 of our 2023 Annual Report '
        "to Shareholders (Exhibit 13) is incorporated herein by reference.</span></div>"
    )
    document = _document("").replace(INTRO, stub)
    with pytest.raises(Item1ANotFoundError, match=r"incorporated by reference \(The information under"):
        extract_item1a(document)


def test_plain_text_with_one_newline_between_paragraphs() -> None:
    # Layout 9: one newline between paragraphs, headings on their own line, bullets on
    # their own lines (the marker alone on one line, or in front of the item).
    lines = [
        "ITEM 1A. RISK FACTORS",
        "Investing in our stock involves risk.",
        "Risks Related to Our Business",
    ]
    for n, (h, b) in enumerate(FACTORS):
        lines += [h, b]
        if n == 1:
            lines += [
                "Such events could include:",
                "\u2022",
                "fires and floods;",
                "\u2022 strikes; and",
                "\u2022 wars.",
            ]
    split = segment_risk_factors(extract_item1a("\n".join(lines)))
    assert split.segmentation.method == "plain-text"
    assert [f.heading for f in split.factors] == HEADINGS
    items = "Such events could include:\n\u2022 fires and floods;\n\u2022 strikes; and\n\u2022 wars."
    assert split.factors[1].body == f"{BODIES[1]}\n{items}"
    assert {f.group for f in split.factors} == {"Risks Related to Our Business"}


def test_plain_text_title_case_headings_and_captions() -> None:
    # Title Case headings without a final stop, under Title Case captions, one per line.
    titles = [h.rstrip(".").title() for h in HEADINGS]
    lines = ["Item 1A. Risk Factors", "Business Risks"]
    for n, (title, body) in enumerate(zip(titles, BODIES, strict=True)):
        if n == 5:
            lines.append("General Risks")
        lines += [title, body]
    factors = _split("\n".join(lines))
    assert [f.heading for f in factors] == titles
    assert [f.group for f in factors] == ["Business Risks"] * 5 + ["General Risks"] * 4


def test_plain_text_run_in_headings_and_hard_wrapped_lines() -> None:
    # Layout 9: each heading runs into its body on the same paragraph; lines are hard-wrapped
    # at 72 columns with a blank line between paragraphs. Wrapped pieces are never factors.
    paragraphs = [f"{h} {b}" for h, b in FACTORS]
    wrapped: list[str] = ["ITEM 1A. RISK FACTORS", ""]
    for paragraph in paragraphs:
        line = ""
        for word in paragraph.split():
            if len(line) + len(word) + 1 > 72:
                wrapped.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        wrapped += [line, ""]
    factors = _split("\n".join(wrapped))
    assert [f.heading for f in factors] == HEADINGS
    assert [f.body for f in factors] == BODIES


def test_headings_styled_by_a_style_sheet() -> None:
    # Some filing agents style paragraphs by class from a <style> sheet, not inline.
    sheet = "<style>.hd { font-weight: bold; font-style: italic } p.tx { font-size: 10pt }</style>"
    section = "".join(f'<p class="hd">{h}</p><p class="tx">{b}</p>' for h, b in FACTORS)
    split = segment_risk_factors(
        extract_item1a(_document(section).replace("<html>", f"<html><head>{sheet}</head>"))
    )
    assert [f.heading for f in split.factors] == HEADINGS
    assert split.segmentation.heading_style == "bold italic 10pt"  # the body's size, from p.tx


@pytest.mark.parametrize("marker", ["\u2022 ", "1. ", "(a) "])
def test_bulleted_or_numbered_headings(marker: str) -> None:
    section = "".join(f"<p>{marker}<b>{h}</b></p><p>{b}</p>" for h, b in FACTORS)
    split = segment_risk_factors(extract_item1a(_document(section)))
    assert [f.heading for f in split.factors] == HEADINGS
    assert [f.body for f in split.factors] == BODIES
    assert split.segmentation.heading_style == "bold, bulleted"


def test_summary_lists_without_a_summary_heading_are_not_factors() -> None:
    # An unheaded summary: captions (in the heading style) over bullet lists, then the factors.
    summary = _div("Risks Related to Our Business", BOLD) + "".join(
        f"<div>\u2022 {h}</div>" for h in HEADINGS[:4]
    )
    summary += _div("Risks Related to Our Stock", BOLD) + "".join(
        f"<div>\u2022 {h}</div>" for h in HEADINGS[4:]
    )
    section = summary + _div("Risks Related to Our Business", BOLD)
    section += "".join(_div(h, BOLD) + _div(b) for h, b in FACTORS)
    split = segment_risk_factors(extract_item1a(_document(section)))
    assert [f.heading for f in split.factors] == HEADINGS
    assert {f.group for f in split.factors} == {"Risks Related to Our Business"}
    assert split.segmentation.preamble_words > 100


# --------------------------------------------------------------------------- warnings


def test_no_factors_warns_and_the_summary_says_unreliable() -> None:
    # Body text only, without emphasis and without a paragraph opening on a risk statement:
    # no heading can be recognised.
    neutral = "We sell widgets in many countries. Our plants are in Ohio and in Texas. " * 40
    section = extract_item1a(_document(_div(neutral) * 2).replace(INTRO, ""))
    split = segment_risk_factors(section)
    assert split.factors == []
    assert split.segmentation.coverage == 0.0
    assert any("No risk-factor headings" in w for w in split.segmentation.warnings)
    report = analyze_sections(section, section)
    assert report.executive_summary.startswith("Unreliable:")
    assert "No material change" not in " ".join(report.recommendations)
    assert report.recommendations[0].startswith("Check the previous year's Item 1A")


def test_short_section_and_few_factors_warn() -> None:
    short = segment_risk_factors(extract_item1a(_document(_div(HEADINGS[0], BOLD) + _div(BODIES[0] * 7))))
    assert any("only" in w and "words" in w for w in short.segmentation.warnings)
    # Two headings over ~6,000 words: the style marks too few factors for the section.
    long_body = _div(" ".join(BODIES) + " ") * 12
    few = _document(_div(HEADINGS[0], BOLD) + long_body + _div(HEADINGS[1], BOLD) + long_body)
    record = segment_risk_factors(extract_item1a(few)).segmentation
    assert record.factors == 2 and record.coverage == 1.0
    assert any("marks only 2 factors" in w for w in record.warnings)


def test_readme_documents_the_segmentation_record() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert [name for name in Segmentation.model_fields if f"`{name}`" not in readme] == []


def test_clean_years_have_no_warnings_and_may_report_no_change() -> None:
    section = extract_item1a(_document("".join(_div(h, BOLD) + _div(b) for h, b in FACTORS) + INTRO * 6))
    report = analyze_sections(section, section)
    assert report.previous.segmentation.warnings == []
    assert report.current.segmentation.coverage == 1.0
    assert report.recommendations == ["No material change in the risk factors; no follow-up needed."]
    assert not report.executive_summary.startswith("Unreliable")
