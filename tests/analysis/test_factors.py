"""Splitting Item 1A into risk factors: counts against hand counts, real headings, groups."""

from __future__ import annotations

import dataclasses
import re

import pytest

from acquire.analysis import RiskCategory, extract_item1a, segment_risk_factors, split_risk_factors
from acquire.analysis.models import RiskFactor
from acquire.analysis.text import words
from tests.analysis.helpers import FACTORS, SEC, build_10k, load

# Hand counts. How they were counted: each document was opened in a browser and the Item 1A
# section read from its heading to Item 1B; every risk-factor heading was counted, that is
# every sentence-like paragraph set in the filer's heading style (NVIDIA: bold black 9pt;
# Tesla and Meta: bold italic), skipping category captions ("Risks Related to ...", bold
# but not italic at Tesla/Meta, bold green at NVIDIA) and the "Risk Factors Summary" /
# "Summary Risk Factors" bullets and captions before the factors. The counts were
# cross-checked with a crude grep over the raw HTML (paragraphs whose first span is
# font-weight:700 with at least six words, captions removed):
#   NVIDIA FY2023: 25 (incl. the COVID-19 factor dropped in FY2024)
#   NVIDIA FY2024: 24
#   NVIDIA FY2025: 23 (the indebtedness factor was dropped)
#   Tesla FY2023: 40 (7 + 23 + 5 + 5 under four captions)
#   Tesla FY2024: 40
#   Meta FY2023: 48 (10 + 23 + 6 + 5 + 4 under five captions; the summary's 5 bold-italic
#                    captions are not factors)
#   Meta FY2024: 48
HAND_COUNTS = {
    "nvda_fy2023": 25,
    "nvda_fy2024": 24,
    "nvda_fy2025": 23,
    "tsla_fy2023": 40,
    "tsla_fy2024": 40,
    "meta_fy2023": 48,
    "meta_fy2024": 48,
}

# Exact headings known to be in each document (first, last and a short one).
KNOWN_HEADINGS = {
    "nvda_fy2023": [
        "Failure to meet the evolving needs of our industry and markets may adversely impact our "
        "financial results.",
        "The COVID-19 pandemic has affected and could continue to have a material adverse impact on "
        "our financial condition and results of operations.",
        "Adverse economic conditions may harm our business.",
    ],
    "nvda_fy2024": [
        "Adverse economic conditions may harm our business.",
        "Climate change may have a long-term impact on our business.",
        "Competition could adversely impact our market share and financial results.",
    ],
    "nvda_fy2025": [
        "Competition could adversely impact our market share and financial results.",
        "Delaware law and our certificate of incorporation, bylaws and agreement with Microsoft could "
        "delay or prevent a change in control.",
    ],
    "tsla_fy2023": [
        "We are exposed to fluctuations in currency exchange rates.",
        "Additional funds may not be available to us when we need or want them.",
        "We are highly dependent on the services of Elon Musk, Technoking of Tesla and our Chief "
        "Executive Officer.",
    ],
    "tsla_fy2024": [
        "We are exposed to fluctuations in currency exchange rates.",
        "Anti-takeover provisions contained in our governing documents, applicable laws and certain of "
        "our debt facilities could impair a takeover attempt.",
    ],
    "meta_fy2023": [
        "Unfavorable media coverage negatively affects our business.",
        "We cannot assure you that we will effectively manage our scale.",
        "There can be no assurance that we will continue to declare cash dividends.",
    ],
    "meta_fy2024": [
        "Unfavorable media coverage negatively affects our business.",
        "We face inventory risk with respect to our consumer hardware products.",
    ],
}

GROUP_COUNTS = {"nvda": 4, "tsla": 4, "meta": 5}


def _factors(name: str) -> list[RiskFactor]:
    return split_risk_factors(extract_item1a(load(name)))


@pytest.mark.parametrize("name", sorted(HAND_COUNTS))
def test_factor_count_matches_hand_count(name: str) -> None:
    assert abs(len(_factors(name)) - HAND_COUNTS[name]) <= 1


@pytest.mark.parametrize("name", sorted(HAND_COUNTS))
def test_headings_are_real_headings(name: str) -> None:
    factors = _factors(name)
    headings = [f.heading for f in factors]
    for known in KNOWN_HEADINGS[name]:
        assert known in headings
    for factor in factors:
        heading = factor.heading
        assert 4 <= len(heading.split()) <= 80, heading
        assert not re.fullmatch(r"\d{1,3}", heading)
        assert "table of contents" not in heading.lower()
        assert not re.match(r"item\s*1a|risk factors|summary|risks related", heading, re.IGNORECASE)
        assert factor.body and factor.words > len(heading.split())
    assert [f.position for f in factors] == list(range(len(factors)))


@pytest.mark.parametrize("name", sorted(HAND_COUNTS))
def test_groups_are_the_category_captions(name: str) -> None:
    factors = _factors(name)
    groups = list(dict.fromkeys(f.group for f in factors))
    assert None not in groups
    assert len(groups) == GROUP_COUNTS[name[:4]]
    assert all(str(group).startswith("Risks Related to") for group in groups)


def test_summary_bullets_and_captions_are_not_factors() -> None:
    # Meta's "Summary Risk Factors" repeats its captions in the factor heading style
    # (bold italic); the first factor must be the first real one, under the real caption.
    factors = _factors("meta_fy2023")
    assert factors[0].heading.startswith("If we fail to retain existing users or add new users")
    assert factors[0].group == "Risks Related to Our Product Offerings"
    nvda = _factors("nvda_fy2024")
    assert nvda[0].heading.startswith("Failure to meet the evolving needs")
    # The summary's one-line version of that factor is not part of any body.
    assert all("Risk Factors Summary" not in f.body for f in nvda)


def test_factor_fields_and_scores() -> None:
    factors = _factors("tsla_fy2023")
    fx = next(f for f in factors if f.heading == "We are exposed to fluctuations in currency exchange rates.")
    assert fx.group == "Risks Related to Our Operations"
    assert fx.category is RiskCategory.MARKET_RISK
    assert fx.tone.words == fx.words
    assert 0 < fx.tone.negative < 0.2
    assert -1.0 <= fx.tone.net_tone <= 1.0


def test_style_is_detected_per_document() -> None:
    # Bold-only headings with bold captions: captions are told apart by wording, and an
    # italic introduction is not a heading.
    html = build_10k(
        FACTORS,
        captions={0: "Risks Related to Our Business", 5: "General Risks"},
        heading_style="font-weight:bold",
    )
    factors = split_risk_factors(extract_item1a(html))
    assert [f.heading for f in factors] == [h for h, _ in FACTORS]
    assert [f.group for f in factors] == ["Risks Related to Our Business"] * 5 + ["General Risks"] * 4
    assert [f.body for f in factors] == [b for _, b in FACTORS]


def test_tag_based_emphasis_and_run_in_headings() -> None:
    # Older filings: <b><i> tags, and headings run into the first paragraph.
    items = "".join(f"<p><b><i>{heading}</i></b> {body}</p>" for heading, body in FACTORS)
    html = (
        '<html><body><p><a href="#rf">Risk Factors</a></p><p><a href="#ub">Item 1B.</a></p>'
        f'<p><a name="rf"></a><b>ITEM 1A. RISK FACTORS</b></p>{items}'
        '<p><a name="ub"></a><b>ITEM 1B. UNRESOLVED STAFF COMMENTS</b></p><p>None.</p></body></html>'
    )
    factors = split_risk_factors(extract_item1a(html))
    assert [f.heading for f in factors] == [h for h, _ in FACTORS]
    assert [f.body for f in factors] == [b for _, b in FACTORS]


def test_older_edgarizer_html() -> None:
    # CARBO Ceramics FY2017 (2018 filing): <p>/<font> inline styles, <a name> anchors, bold
    # italic headings without captions, one of them unpunctuated. Hand count: 20 bold-italic
    # paragraphs between the introduction and Item 1B, counted in the browser.
    path = "www.sec.gov/Archives/edgar/data/1009672/000156459018004771/crr-10k_20171231.htm.gz"
    assert (SEC / path).is_file()
    factors = split_risk_factors(extract_item1a(load(path)))
    assert len(factors) == 20
    assert factors[3].heading == "We face distribution and logistical challenges in our business"
    assert factors[4].heading == "We operate in an increasingly competitive market."
    assert all(f.group is None for f in factors)


def test_segmentation_hands_on_each_factors_word_tokens() -> None:
    split = segment_risk_factors(extract_item1a(load("tsla_fy2024")))
    assert len(split.texts) == len(split.factors) == 40
    for factor, text in zip(split.factors, split.texts, strict=True):
        assert (text.heading, text.body) == (words(factor.heading), words(factor.body))
        assert len(text.full) == factor.words


@pytest.mark.parametrize("name", ["meta_fy2023", "nvda_fy2025", "corpus/html/BA-FY2024.html.gz"])
def test_section_tokens_are_the_words_of_the_section_text(name: str) -> None:
    # Factors and the section are built from each block's tokens: the same words as
    # tokenising the section and the factors' texts.
    section = extract_item1a(load(name))
    split = segment_risk_factors(section)
    assert split.tokens == words(section.text)
    assert [t.body for t in split.texts] == [words(f.body) for f in split.factors]


@pytest.mark.parametrize("name", ["meta_fy2023", "nvda_fy2025", "corpus/html/BA-FY2024.html.gz"])
def test_factor_tokens_are_slices_of_the_section_tokens(name: str) -> None:
    # The drift figures take a factor's integers from the section's where span_of finds it.
    split = segment_risk_factors(extract_item1a(load(name)))
    spans = [split.span_of(p) for p in range(len(split.factors))]
    assert all(span is not None for span in spans)
    for span, text in zip(spans, split.texts, strict=True):
        assert span is not None and split.tokens[span[0] : span[1]] == text.full


def test_a_span_that_does_not_hold_the_factors_tokens_is_not_used() -> None:
    # A caption's introduction joining the factor before it, or a heading whose words are not
    # its blocks', leaves a factor's span holding other tokens: span_of then declines.
    split = segment_risk_factors(extract_item1a(build_10k(FACTORS[:3])))
    start, end = split.spans[1]
    assert split.span_of(1) == (start, end)
    shifted = dataclasses.replace(split, spans=[split.spans[0], (start + 1, end), split.spans[2]])
    assert shifted.span_of(1) is None and shifted.span_of(0) == split.spans[0]
    assert dataclasses.replace(split, spans=[]).span_of(0) is None
