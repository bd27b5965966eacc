"""Cross-year matching and drift figures on synthetic pairs and one real pair."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import acquire.analysis.matching as matching_module
from acquire.analysis import ChangeStatus, RiskDriftReport, analyze_risk_drift, match_factors
from acquire.analysis.matching import FactorText, Matching
from acquire.analysis.splits import splits_and_merges, trigrams
from acquire.analysis.text import words
from tests.analysis.helpers import FACTORS, build_10k, load

F = FACTORS


def _drift(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> RiskDriftReport:
    return analyze_risk_drift(build_10k(old), build_10k(new))


def _non_unchanged(report: RiskDriftReport) -> list[tuple[str, list[int], list[int]]]:
    return [
        (c.status.value, c.previous, c.current)
        for c in report.changes
        if c.status is not ChangeStatus.UNCHANGED
    ]


def test_identical_years_are_all_unchanged_with_similarity_one() -> None:
    report = _drift(F, F)
    assert report.counts == {"unchanged": 9, "modified": 0, "new": 0, "removed": 0, "split": 0, "merged": 0}
    assert all(c.status is ChangeStatus.UNCHANGED for c in report.changes)
    for scores in [report.section_similarity, *(c.similarity for c in report.changes)]:
        assert scores is not None
        assert (scores.cosine, scores.jaccard, scores.edit, scores.simple) == (1.0, 1.0, 1.0, 1.0)
    assert all(row.drift == 0.0 and row.count_change == 0 for row in report.categories)
    assert report.recommendations == ["No material change in the risk factors; no follow-up needed."]


def test_one_appended_factor_is_exactly_one_new() -> None:
    report = _drift(F[:8], F)
    assert report.counts["new"] == 1
    assert report.counts["unchanged"] == 8
    assert _non_unchanged(report) == [("new", [], [8])]
    assert report.changes[-1].heading == F[8][0]
    assert report.recommendations[0].startswith(f'Review new risk factor "{F[8][0]}"')
    assert "New risks:" in report.executive_summary


def test_reordered_factors_report_no_changes() -> None:
    report = _drift(F, list(reversed(F)))
    assert report.section_similarity.cosine == 1.0
    assert report.section_similarity.jaccard == 1.0
    assert report.section_similarity.simple < 1.0  # order-sensitive measures do see the move
    assert report.counts["unchanged"] == 9
    assert _non_unchanged(report) == []
    assert all(c.previous == [8 - c.current[0]] for c in report.changes)


def test_modified_factor_reports_changed_sentences() -> None:
    heading, body = F[3]
    edited = body.replace(
        "could raise our tax expense", "have raised and could further raise our tax expense"
    )
    edited += " The OECD Pillar Two rules took effect in several countries this year."
    report = _drift(F, [*F[:3], (heading, edited), *F[4:]])
    (change,) = [c for c in report.changes if c.status is ChangeStatus.MODIFIED]
    assert (change.previous, change.current) == ([3], [3])
    assert change.similarity is not None and 0.5 < change.similarity.simple < 1.0
    assert change.match_score is not None and change.match_score > 0.5
    assert (
        change.added_sentences[-1] == "The OECD Pillar Two rules took effect in several countries this year."
    )
    assert len(change.removed_sentences) == 1 and "could raise our tax expense" in change.removed_sentences[0]


def test_split_and_merge_are_detected() -> None:
    combined = (
        "We depend on a small number of suppliers, and security breaches could disrupt our operations.",
        f"{F[1][1]} {F[2][1]}",
    )
    before = [F[0], combined, *F[3:8]]
    after = F[:8]
    split = _drift(before, after)
    assert _non_unchanged(split) == [("split", [1], [1, 2])]
    assert split.counts["split"] == 1 and split.counts["new"] == 0 and split.counts["removed"] == 0
    merged = _drift(after, before)
    assert _non_unchanged(merged) == [("merged", [1, 2], [1])]
    assert merged.counts["merged"] == 1 and merged.counts["new"] == 0 and merged.counts["removed"] == 0


def test_splits_from_trigrams_on_demand_equal_those_from_every_body() -> None:
    # Without containment the split search computes only the trigrams it compares.
    combined = ("Suppliers and breaches.", f"{F[1][1]} {F[2][1]}")
    for old, new in [([F[0], combined, *F[3:8]], F[:8]), (F[:8], [F[0], combined, *F[3:8]])]:
        before = [FactorText(words(h), words(b)) for h, b in old]
        after = [FactorText(words(h), words(b)) for h, b in new]
        lazy = match_factors(before, after)
        eager = Matching(pairs=lazy.pairs, unchanged=lazy.unchanged, removed=lazy.removed, new=lazy.new)
        splits_and_merges(before, after, [trigrams(f.body) for f in (*before, *after)], eager)
        assert (lazy.splits, lazy.merges) == (eager.splits, eager.merges)
        assert lazy.splits or lazy.merges


def test_new_factor_quoting_an_unchanged_one_is_not_a_split() -> None:
    quoting = ("Export rules could also limit our foundry options.", F[1][1])
    report = _drift(F[:8], [*F[:8], quoting])
    assert _non_unchanged(report) == [("new", [], [8])]


def test_short_generic_heading_does_not_drive_a_match() -> None:
    other_body = (
        "Our distributors hold inventory on consignment and may return unsold units at any time. "
        "Concentrated orders from three resellers account for most shipments, and their credit "
        "quality has weakened."
    )
    report = _drift([*F[:5], ("Competition.", F[8][1])], [*F[:5], ("Competition.", other_body)])
    assert _non_unchanged(report) == [("new", [], [5]), ("removed", [5], [])]
    # The same generic heading over a lightly edited body still matches, through the body.
    edited = F[8][1].replace("Droughts threaten", "Severe droughts threaten")
    report = _drift([*F[:5], ("Competition.", F[8][1])], [*F[:5], ("Competition.", edited)])
    assert _non_unchanged(report) == [("modified", [5], [5])]


def test_identical_generic_headings_alone_score_nothing() -> None:
    general = [FactorText(words("General"), words(F[0][1])), FactorText(words("Other"), words(F[4][1]))]
    unrelated = [FactorText(words("General"), words(F[8][1])), FactorText(words("Other"), words(F[6][1]))]
    matching = match_factors(general, unrelated)
    assert matching.pairs == []
    assert (matching.removed, matching.new) == ([0, 1], [0, 1])


def test_specific_heading_helps_a_rewritten_body(monkeypatch: pytest.MonkeyPatch) -> None:
    heading = words(F[2][0])
    old = [FactorText(heading, words(F[2][1]))]
    rewritten = (
        "Criminal groups target our networks with ransomware and phishing, and remediation is expensive."
    )
    new = [FactorText(heading, words(rewritten)), FactorText(words(F[5][0]), words(F[5][1]))]
    matching = match_factors(old, new)
    assert matching.pairs == [(0, 0)]
    assert matching.new == [1]
    # The body alone is too far from the original: the specific heading made the match.
    monkeypatch.setattr(matching_module, "HEADING_WEIGHT", 0.0)
    assert match_factors(old, new).pairs == []


def test_real_pair_nvidia_dropped_the_covid_factor() -> None:
    report = analyze_risk_drift(load("nvda_fy2023"), load("nvda_fy2024"))
    assert report.previous.factors == 25 and report.current.factors == 24
    removed = [c for c in report.changes if c.status is ChangeStatus.REMOVED]
    assert [c.heading[:21] for c in removed] == ["The COVID-19 pandemic"]
    assert report.counts["new"] == 0
    assert report.counts["unchanged"] + report.counts["modified"] == 24
    section = report.section_similarity
    assert 0.95 < section.cosine < 1.0 and 0.5 < section.simple < 0.95
    # Every current factor appears in exactly one change entry.
    assert sorted(p for c in report.changes for p in c.current) == list(range(24))
    assert sorted(p for c in report.changes for p in c.previous) == list(range(25))


def test_category_figures_and_heatmap() -> None:
    report = _drift(F[:8], F)
    climate = next(row for row in report.categories if row.category.value == "climate_esg")
    assert (climate.previous_count, climate.current_count, climate.count_change) == (0, 1, 1)
    assert climate.previous_words == 0 and climate.current_words == climate.words_change > 0
    assert climate.drift == 1.0
    cells = {(cell.category.value, cell.metric): cell for cell in report.heatmap}
    assert len(report.heatmap) == 4 * len(report.categories)
    assert cells[("climate_esg", "count")].change == 1.0
    assert cells[("climate_esg", "drift")].previous is None
    assert cells[("tax", "drift")].change == 0.0
    assert "New risk category disclosed: climate_esg." in report.recommendations


_BODIES = st.lists(st.lists(st.sampled_from("abcdefghijkl"), min_size=1, max_size=40), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(_BODIES, _BODIES)
def test_body_candidates_hold_every_pair_over_the_body_threshold(
    old_bodies: list[list[str]], new_bodies: list[list[str]]
) -> None:
    documents = [*old_bodies, *new_bodies]
    idf = {w: math.log(len(documents) / sum(w in d for d in documents)) for d in documents for w in d}
    old = {i: matching_module._vector(Counter(b), idf) for i, b in enumerate(old_bodies)}
    new = {j: matching_module._vector(Counter(b), idf) for j, b in enumerate(new_bodies)}
    candidates = matching_module._body_candidates(old, new)
    cosine, floor = matching_module._cosine, matching_module.MIN_BODY
    eligible = [(i, j) for i in old for j in new if cosine(old[i], new[j]) >= floor]
    assert set(eligible) <= set(candidates)
    assert candidates == sorted(candidates)
