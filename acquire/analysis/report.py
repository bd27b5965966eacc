"""Heatmap rows, executive summary and recommendations, derived deterministically from figures.

Nothing here reads a clock, a random source or set iteration order: given the same figures,
the text is the same byte for byte. An optional :class:`SummaryRewriter` (for example an LLM
call supplied by the user) may rephrase the summary; the deterministic text is always kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from acquire.analysis.models import (
    CategoryDrift,
    ChangeStatus,
    FactorChange,
    HeatmapCell,
    RiskDriftReport,
    RiskFactor,
    SectionStats,
    SimilarityScores,
)
from acquire.analysis.text import round6

__all__ = [
    "HEATMAP_METRICS",
    "SummaryRewriter",
    "build_heatmap",
    "executive_summary",
    "recommendations",
]

HEATMAP_METRICS: tuple[str, ...] = ("count", "words", "tone", "drift")
"""Heatmap metrics: factor count, word count, net tone, and drift (1 - simple similarity)."""

# A category moving by this much net tone, or a factor scoring below this simple
# similarity, is worth a reader's attention.
_TONE_SHIFT = 0.1
_HEAVY_EDIT = 0.75
_LISTED = 5


@runtime_checkable
class SummaryRewriter(Protocol):
    """Hook to rephrase the deterministic summary, e.g. with a language model.

    The default analysis uses none: no network, no model. An implementation receives the
    complete deterministic report and returns the text stored in
    ``RiskDriftReport.rewritten_summary``; the deterministic ``executive_summary`` is kept.
    """

    def rewrite(self, report: RiskDriftReport) -> str:
        """Return a summary of ``report``."""
        ...


def build_heatmap(categories: Sequence[CategoryDrift]) -> list[HeatmapCell]:
    """Heatmap rows: each category (taxonomy order) x :data:`HEATMAP_METRICS`."""
    cells: list[HeatmapCell] = []
    for row in categories:
        cells.extend(
            (
                HeatmapCell(
                    category=row.category,
                    metric="count",
                    previous=float(row.previous_count),
                    current=float(row.current_count),
                    change=float(row.count_change),
                ),
                HeatmapCell(
                    category=row.category,
                    metric="words",
                    previous=float(row.previous_words),
                    current=float(row.current_words),
                    change=float(row.words_change),
                ),
                HeatmapCell(
                    category=row.category,
                    metric="tone",
                    previous=row.previous_net_tone,
                    current=row.current_net_tone,
                    change=row.net_tone_change,
                ),
                HeatmapCell(
                    category=row.category, metric="drift", previous=None, current=None, change=row.drift
                ),
            )
        )
    return cells


def executive_summary(
    previous: SectionStats,
    current: SectionStats,
    section: SimilarityScores,
    changes: Sequence[FactorChange],
    counts: dict[str, int],
    categories: Sequence[CategoryDrift],
) -> str:
    """A short plain-English summary of the drift, built only from the figures.

    When either year's segmentation raised warnings the summary opens by saying the
    comparison is unreliable, and why.
    """
    lines = [*_unreliable(previous, current)]
    lines += [
        f"Item 1A went from {previous.factors} risk factors ({previous.words:,} words) to "
        f"{current.factors} ({current.words:,} words), "
        f"{_signed_pct(current.words, previous.words)} in length.",
        f"Factors: {counts['unchanged']} unchanged, {counts['modified']} modified, {counts['new']} new, "
        f"{counts['removed']} removed, {counts['split']} split, {counts['merged']} merged.",
        f"Section similarity: cosine {section.cosine:.3f}, Jaccard {section.jaccard:.3f}, "
        f"edit {section.edit:.3f}, simple {section.simple:.3f}.",
        f"Net tone moved from {previous.tone.net_tone:+.3f} to {current.tone.net_tone:+.3f} "
        f"({_tone_word(current.tone.net_tone - previous.tone.net_tone)}); negative words "
        f"{previous.tone.negative:.2%} -> {current.tone.negative:.2%}, uncertainty words "
        f"{previous.tone.uncertainty:.2%} -> {current.tone.uncertainty:.2%}.",
    ]
    new = [c for c in changes if c.status is ChangeStatus.NEW]
    if new:
        lines.append("New risks: " + "; ".join(f'"{_short(c.heading)}"' for c in new[:_LISTED]) + _more(new))
    removed = [c for c in changes if c.status is ChangeStatus.REMOVED]
    if removed:
        lines.append(
            "Removed risks: "
            + "; ".join(f'"{_short(c.heading)}"' for c in removed[:_LISTED])
            + _more(removed)
        )
    changed = _most_changed(changes)
    if changed:
        lines.append(
            "Most changed: "
            + "; ".join(
                f'"{_short(c.heading)}" (simple {c.similarity.simple:.2f})' for c in changed if c.similarity
            )
            + "."
        )
    moved = _moved_categories(categories)
    if moved:
        lines.append(
            "Largest category shifts: "
            + "; ".join(
                f"{row.category.value} {row.words_change:+,} words (drift {row.drift:.2f})" for row in moved
            )
            + "."
        )
    return "\n".join(lines)


def recommendations(
    changes: Sequence[FactorChange],
    categories: Sequence[CategoryDrift],
    current_factors: Sequence[RiskFactor],
    sections: tuple[SectionStats, SectionStats],
) -> list[str]:
    """Actionable review items, most important first, generated by fixed rules.

    Rules: first, each segmentation warning of either year (``sections``: previous and
    current); every new factor (largest first); every removed factor; splits and merges; the
    most heavily edited factors (simple similarity below 0.75); categories whose net tone moved
    by 0.1 or more; and categories that appeared or disappeared. "No material change" is
    said only when no rule fired, warnings included.
    """
    words_of = {f.position: f.words for f in current_factors}
    items: list[str] = [
        f"Check the {year} year's Item 1A before relying on this comparison: {warning}"
        for year, stats in zip(("previous", "current"), sections, strict=True)
        for warning in stats.segmentation.warnings
    ]
    new = sorted(
        (c for c in changes if c.status is ChangeStatus.NEW),
        key=lambda c: (-sum(words_of.get(p, 0) for p in c.current), c.current),
    )
    items.extend(
        f'Review new risk factor "{_short(c.heading)}" ({c.category.value}, '
        f"{sum(words_of.get(p, 0) for p in c.current)} words)."
        for c in new
    )
    items.extend(
        f'Ask why "{_short(c.heading)}" ({c.category.value}) was removed.'
        for c in changes
        if c.status is ChangeStatus.REMOVED
    )
    for c in changes:
        if c.status is ChangeStatus.SPLIT:
            items.append(f'Check the split of "{_short(c.heading)}" into {len(c.current)} factors.')
        elif c.status is ChangeStatus.MERGED:
            items.append(f'Check the merge of {len(c.previous)} factors into "{_short(c.heading)}".')
    items.extend(
        f'Read the revisions to "{_short(c.heading)}": {len(c.added_sentences)} sentences added, '
        f"{len(c.removed_sentences)} removed (simple similarity {c.similarity.simple:.2f})."
        for c in _most_changed(changes)
        if c.similarity
    )
    for row in categories:
        if row.previous_count == 0 and row.current_count > 0:
            items.append(f"New risk category disclosed: {row.category.value}.")
        elif row.current_count == 0 and row.previous_count > 0:
            items.append(f"Risk category no longer disclosed: {row.category.value}.")
        elif abs(row.net_tone_change) >= _TONE_SHIFT:
            items.append(
                f"Tone in {row.category.value} turned {_tone_word(row.net_tone_change)} "
                f"({row.previous_net_tone:+.3f} -> {row.current_net_tone:+.3f})."
            )
    if not items:
        items.append("No material change in the risk factors; no follow-up needed.")
    return items


def _unreliable(previous: SectionStats, current: SectionStats) -> list[str]:
    warned = [
        (year, stats.segmentation.warnings)
        for year, stats in (("previous", previous), ("current", current))
        if stats.segmentation.warnings
    ]
    if not warned:
        return []
    reasons = "; ".join(f"{year} year: " + " ".join(warnings) for year, warnings in warned)
    return [
        "Unreliable: the risk factors could not be split with confidence, so the figures below "
        f"may be wrong ({reasons})"
    ]


def _most_changed(changes: Sequence[FactorChange]) -> list[FactorChange]:
    edited = [
        c
        for c in changes
        if c.status is ChangeStatus.MODIFIED
        and c.similarity is not None
        and c.similarity.simple < _HEAVY_EDIT
    ]
    edited.sort(key=lambda c: (c.similarity.simple if c.similarity else 1.0, c.current))
    return edited[:_LISTED]


def _moved_categories(categories: Sequence[CategoryDrift]) -> list[CategoryDrift]:
    moved = [row for row in categories if row.words_change != 0 or row.drift > 0]
    moved.sort(key=lambda row: (-abs(row.words_change), -row.drift, row.category.value))
    return moved[:3]


def _signed_pct(now: int, before: int) -> str:
    if before == 0:
        return "new"
    return f"{round6((now - before) / before):+.1%}"


def _tone_word(change: float) -> str:
    if change <= -_TONE_SHIFT / 5:
        return "more negative"
    if change >= _TONE_SHIFT / 5:
        return "more positive"
    return "about the same"


def _short(heading: str, limit: int = 90) -> str:
    return heading if len(heading) <= limit else heading[: limit - 3].rstrip() + "..."


def _more(items: Sequence[object]) -> str:
    return f" and {len(items) - _LISTED} more." if len(items) > _LISTED else "."
