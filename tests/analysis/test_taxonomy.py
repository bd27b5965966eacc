"""Keyword-weighted category rules."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acquire.analysis import RiskCategory, analyze_risk_drift, classify, taxonomy
from acquire.analysis.taxonomy import RULES
from acquire.analysis.text import words
from tests.analysis.helpers import load


def test_taxonomy_has_21_categories_with_rules_for_all_but_other() -> None:
    assert len(RiskCategory) == 21
    assert set(RULES) == set(RiskCategory) - {RiskCategory.OTHER}


@pytest.mark.parametrize(
    ("heading", "category"),
    [
        ("We are exposed to fluctuations in currency exchange rates.", RiskCategory.MARKET_RISK),
        ("Adverse economic conditions may harm our business.", RiskCategory.MACROECONOMIC),
        (
            "Competition could adversely impact our market share and financial results.",
            RiskCategory.COMPETITION,
        ),
        ("Changes in tax laws could increase our effective tax rate.", RiskCategory.TAX),
        ("Security breaches and cyber-attacks could disrupt our operations.", RiskCategory.CYBERSECURITY),
        ("Climate change may have a long-term impact on our business.", RiskCategory.CLIMATE_ESG),
        ("The trading price of our common stock is likely to be volatile.", RiskCategory.STOCK_GOVERNANCE),
        ("We may not be able to successfully integrate our acquisitions.", RiskCategory.MERGERS_ACQUISITIONS),
        ("Our indebtedness could adversely affect our financial position.", RiskCategory.CAPITAL_LIQUIDITY),
        (
            "If we are unable to protect our intellectual property, our brand may suffer.",
            RiskCategory.INTELLECTUAL_PROPERTY,
        ),
        ("The COVID-19 pandemic could harm our business.", RiskCategory.PANDEMIC_HEALTH),
        ("We depend on a small number of suppliers for key components.", RiskCategory.SUPPLY_CHAIN),
    ],
)
def test_heading_decides(heading: str, category: RiskCategory) -> None:
    assert classify(words(heading), []) is category


def test_heading_outweighs_body_and_weak_evidence_is_other() -> None:
    body = words("Our suppliers, foundries and component manufacturers may fail to deliver. " * 5)
    assert classify(words("Changes in tax laws could hurt us."), body) is RiskCategory.TAX
    assert classify(words("Things could go wrong."), words("Results may differ.")) is RiskCategory.OTHER


def test_matched_factors_keep_one_category_across_years() -> None:
    report = analyze_risk_drift(load("nvda_fy2024"), load("nvda_fy2025"))
    old = {f.position: f.category for f in report.previous_factors}
    new = {f.position: f.category for f in report.current_factors}
    for change in report.changes:
        if change.previous and change.current:
            both = {old[p] for p in change.previous} | {new[p] for p in change.current}
            assert both == {change.category}, change.heading
    # The export-control factor was reworded from "regulation" towards "geopolitical" terms;
    # classified once on both years it stays put, and the heatmap shows its growth instead of
    # ~3,000 words leaving one category for another.
    moves = {row.category: row.words_change for row in report.categories}
    assert moves[RiskCategory.REGULATION] == 1040
    assert abs(moves[RiskCategory.GEOPOLITICAL_TRADE]) < 100


def test_cached_word_hits_count_every_rule_once() -> None:
    tokens = words(
        "Competitors and competition, tariffs and export controls; our suppliers' supply chain, "
        "data privacy and personal data, the effective tax rate, limited number of customers."
    )
    counts = taxonomy._term_counts(tokens)
    assert counts[(list(RiskCategory).index(RiskCategory.COMPETITION), 3.0, "competitors")] == 1
    assert counts[(list(RiskCategory).index(RiskCategory.TAX), 3.0, "effective tax rate")] == 1
    assert counts[(list(RiskCategory).index(RiskCategory.PRIVACY), 3.0, "personal data")] == 1
    # A full table is emptied, not grown without bound, and the counts stay the same.
    taxonomy._SEEN.update(f"filler{n}" for n in range(taxonomy._MAX_CACHED_WORDS))
    fresh = [*tokens, "unseenword"]
    assert taxonomy._term_counts(fresh, Counter(fresh)) == counts
    assert len(taxonomy._SEEN) <= len(set(fresh))


def _slice_counts(tokens: list[str]) -> dict[tuple[int, float, str], int]:
    """The rule counts by their definition: every word's hits, and from every phrase's first
    word on, the slices of two up to the longest phrase's length looked up as phrases (only
    slices of that full length: near a text's end, a shorter slice is the same phrase again)."""
    counts: dict[tuple[int, float, str], int] = {}
    for word in tokens:
        for index, weight in taxonomy._word_hits(word):
            counts[(index, weight, word)] = counts.get((index, weight, word), 0) + 1
    for at, word in enumerate(tokens):
        if word not in taxonomy._PHRASE_STARTS:
            continue
        for size in range(2, min(taxonomy._MAX_PHRASE, len(tokens) - at) + 1):
            phrase = tuple(tokens[at : at + size])
            for index, weight in taxonomy._EXACT.get(phrase, ()):
                key = (index, weight, " ".join(phrase))
                counts[key] = counts.get(key, 0) + 1
    return counts


# Phrase words (first words that are one-word rules too), their neighbours and filler.
_RULE_WORDS = st.sampled_from(
    [
        "data",
        "privacy",
        "personal",
        "information",
        "security",
        "incidents",
        "interest",
        "rates",
        "trade",
        "secrets",
        "policies",
        "research",
        "and",
        "development",
        "limited",
        "number",
        "of",
        "effective",
        "tax",
        "rate",
        "class",
        "action",
        "dual",
        "stock",
        "price",
        "common",
        "capital",
        "international",
        "sales",
        "change",
        "in",
        "control",
        "the",
        "tariffs",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_RULE_WORDS, max_size=30))
def test_rule_counts_equal_their_slice_definition(tokens: list[str]) -> None:
    assert taxonomy._term_counts(tokens) == _slice_counts(tokens)
    assert taxonomy._term_counts(tokens, Counter(tokens)) == _slice_counts(tokens)


@pytest.mark.parametrize("rule", [["market", "share"], ["research", "and", "development"], ["data"]])
def test_a_rule_at_the_end_of_a_text_counts_once(rule: list[str]) -> None:
    # Headings often end in a rule ("... Could Impact the Company's Operating Results"); it
    # used to count once more per word it was short of the longest phrase, so a heading's
    # last words could outvote the rest of it.
    at_end = taxonomy._term_counts(["about", *rule])
    inside = taxonomy._term_counts(["about", *rule, "today"])
    assert at_end == inside
    assert [n for (_, _, term), n in at_end.items() if term == " ".join(rule)] == [1]
