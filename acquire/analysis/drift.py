"""Top-level risk-drift analysis: two 10-K documents in, one deterministic report out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

from acquire.analysis.factors import SegmentedSection, segment_years
from acquire.analysis.item1a import Item1ASection, extract_item1a
from acquire.analysis.lexicon import TONE_CLASSES, Lexicon, tone_counts, tone_scores
from acquire.analysis.matching import FactorText, Matching, match_factors
from acquire.analysis.models import (
    CategoryDrift,
    ChangeStatus,
    FactorChange,
    RiskCategory,
    RiskDriftReport,
    RiskFactor,
    SectionStats,
    SimilarityScores,
    ToneScores,
)
from acquire.analysis.report import SummaryRewriter, build_heatmap, executive_summary, recommendations
from acquire.analysis.similarity import Vocabulary, counted_similarity, simple_similarity_ints
from acquire.analysis.taxonomy import harmonise_categories
from acquire.analysis.text import round6, sentences, words

__all__ = ["analyze_risk_drift", "analyze_sections"]


def analyze_risk_drift(
    previous_document: str | bytes,
    current_document: str | bytes,
    *,
    lexicon: Lexicon | None = None,
    rewriter: SummaryRewriter | None = None,
) -> RiskDriftReport:
    """Compare Item 1A of two 10-K documents (HTML, inline XBRL or full-submission ``.txt``).

    ``lexicon`` replaces the bundled tone word lists (e.g. one from
    :func:`acquire.analysis.load_lm_master_dictionary`); ``rewriter`` optionally rephrases the
    summary. Synchronous, CPU-only and deterministic: the same inputs give a report whose
    ``model_dump_json()`` is byte-identical.

    Raises:
        Item1ANotFoundError: when either document has no recognisable Item 1A.
    """
    return analyze_sections(
        extract_item1a(previous_document),
        extract_item1a(current_document),
        lexicon=lexicon,
        rewriter=rewriter,
    )


def analyze_sections(
    previous: Item1ASection,
    current: Item1ASection,
    *,
    lexicon: Lexicon | None = None,
    rewriter: SummaryRewriter | None = None,
    progress: Callable[[str], None] | None = None,
) -> RiskDriftReport:
    """:func:`analyze_risk_drift` for already extracted sections.

    ``progress`` is called with each stage's name as it completes: ``"segment"``,
    ``"score"``, ``"match"``, ``"summarise"`` (the job runtime turns them into events).
    """
    done = progress or (lambda stage: None)
    old_split, new_split = segment_years(previous, current, lexicon)
    old_factors, new_factors = old_split.factors, new_split.factors
    done("segment")
    old_section = old_split.tokens or words(previous.text)
    new_section = new_split.tokens or words(current.text)
    old_counted, new_counted = Counter(old_section), Counter(new_section)
    # Each factor is tokenised and counted once, by the segmentation; matching, similarity,
    # tone and category figures all reuse its tokens, counts and tone counts, and one
    # vocabulary maps every text of both years to integers for the edit measures.
    old_texts, new_texts = _texts(old_split), _texts(new_split)
    vocabulary = Vocabulary(old_counted, new_counted)
    old_stats = _stats(previous, old_split, old_counted, len(old_section), lexicon)
    new_stats = _stats(current, new_split, new_counted, len(new_section), lexicon)
    done("score")
    matching = match_factors(old_texts, new_texts)
    old_factors, new_factors = harmonise_categories(old_factors, new_factors, old_texts, new_texts, matching)
    old_ints, new_ints = vocabulary.ints(old_section), vocabulary.ints(new_section)
    old_side = _Side.of(
        old_factors, old_split, old_texts, _tones(old_split, old_texts, lexicon), vocabulary, old_ints
    )
    new_side = _Side.of(
        new_factors, new_split, new_texts, _tones(new_split, new_texts, lexicon), vocabulary, new_ints
    )
    changes = _changes(old_side, new_side, matching)
    categories = _category_drift(old_side, new_side, changes)
    counts = {status.value: 0 for status in ChangeStatus}
    for change in changes:
        counts[change.status.value] += 1
    section_similarity = counted_similarity(
        old_counted,
        new_counted,
        old_ints,
        new_ints,
        _edit_hint(changes, old_side, new_side),
    )
    done("match")
    report = RiskDriftReport(
        previous=old_stats,
        current=new_stats,
        section_similarity=section_similarity,
        previous_factors=old_factors,
        current_factors=new_factors,
        changes=changes,
        counts=counts,
        categories=categories,
        heatmap=build_heatmap(categories),
        executive_summary=executive_summary(
            old_stats, new_stats, section_similarity, changes, counts, categories
        ),
        recommendations=recommendations(changes, categories, new_factors, (old_stats, new_stats)),
    )
    if rewriter is not None:
        report = report.model_copy(update={"rewritten_summary": rewriter.rewrite(report)})
    done("summarise")
    return report


def _texts(split: SegmentedSection) -> list[FactorText]:
    if len(split.texts) == len(split.factors):
        return split.texts
    return [FactorText(heading=words(f.heading), body=words(f.body)) for f in split.factors]


def _tones(split: SegmentedSection, texts: Sequence[FactorText], lexicon: Lexicon | None) -> list[list[int]]:
    if len(split.tones) == len(split.factors):
        return split.tones
    return [tone_counts((t.heading_counts, t.body_counts), lexicon) for t in texts]


@dataclass(frozen=True, slots=True)
class _Side:
    """One year's factors with their tokens, tone counts and vocabulary integers (parallel lists)."""

    factors: Sequence[RiskFactor]
    texts: Sequence[FactorText]
    tones: Sequence[list[int]]
    ints: Sequence[list[int]]

    @classmethod
    def of(
        cls,
        factors: Sequence[RiskFactor],
        split: SegmentedSection,
        texts: Sequence[FactorText],
        tones: Sequence[list[int]],
        vocabulary: Vocabulary,
        section: list[int],
    ) -> _Side:
        """The factors' integers: a slice of the ``section``'s where their tokens are that slice."""
        spans = [split.span_of(p) if texts is split.texts else None for p in range(len(texts))]
        ints = [
            section[s[0] : s[1]] if s else vocabulary.ints(t.heading + t.body)
            for s, t in zip(spans, texts, strict=True)
        ]
        return cls(factors, texts, tones, ints)

    def size(self, positions: Iterable[int]) -> int:
        """The number of tokens of the factors at ``positions``."""
        return sum(len(self.ints[p]) for p in positions)

    def integers(self, positions: Iterable[int]) -> list[int]:
        """The factors' tokens as integers, in order (joined in C, no Python step per token)."""
        return list(chain.from_iterable(self.ints[p] for p in positions))

    def counted(self, positions: Sequence[int]) -> Counter[str]:
        """The factors' word counts, added up."""
        total: Counter[str] = Counter()
        for p in positions:
            total.update(self.texts[p].body_counts)
            total.update(self.texts[p].heading_counts)
        return total

    def tone(self, positions: Sequence[int]) -> ToneScores:
        """The tone of the factors together (their class counts add up)."""
        counts = [sum(column) for column in zip(*(self.tones[p] for p in positions), strict=True)]
        return tone_scores(counts or [0] * len(TONE_CLASSES), self.size(positions))


def _edit_hint(changes: Sequence[FactorChange], old: _Side, new: _Side) -> int:
    """An estimate of the sections' Levenshtein distance: the factors' distances added up.

    Most of a section's edits are inside its factors; the estimate runs a little low (moved
    text costs more in the whole section), hence the margin.
    """
    total = 0
    for change in changes:
        before, after = old.size(change.previous), new.size(change.current)
        if change.similarity is None:
            total += before + after
        else:
            total += round((1.0 - change.similarity.edit) * max(before, after))
    return total + total // 2


def _indel_hints(changes: Sequence[FactorChange], old: _Side, new: _Side) -> dict[RiskCategory, int]:
    """Per category, an estimate of the Indel distance of its factors' texts across the years.

    Matched factors share their category, so a category's distance is mostly its changes'
    distances added up (one-sided factors count whole); reordered factors cost more, hence
    the margin. Like :func:`_edit_hint`, it only sets where the banded search starts.
    """
    hints: dict[RiskCategory, int] = {}
    for change in changes:
        size = old.size(change.previous) + new.size(change.current)
        simple = change.similarity.simple if change.similarity is not None else 0.0
        hints[change.category] = hints.get(change.category, 0) + round((1.0 - simple) * size)
    return {category: total + total // 2 for category, total in hints.items()}


def _full(factor: RiskFactor) -> str:
    return f"{factor.heading}\n{factor.body}"


def _stats(
    section: Item1ASection, split: SegmentedSection, counted: Counter[str], size: int, lexicon: Lexicon | None
) -> SectionStats:
    groups = list(dict.fromkeys(f.group for f in split.factors if f.group))
    return SectionStats(
        factors=len(split.factors),
        words=size,
        groups=groups,
        extraction=section.method,
        tone=tone_scores(tone_counts([counted], lexicon), size),
        segmentation=split.segmentation,
    )


def _changes(old_side: _Side, new_side: _Side, matching: Matching) -> list[FactorChange]:
    """FactorChange entries: splits/merges replace the pairs and new/removed entries they cover."""
    old, new = old_side.factors, new_side.factors

    def compare(
        status: ChangeStatus, before: list[int], after: list[int], score: float | None
    ) -> FactorChange:
        ints = (old_side.integers(before), new_side.integers(after))
        if ints[0] == ints[1]:  # equal texts (unchanged factors) score 1 on every measure
            scores = SimilarityScores(cosine=1.0, jaccard=1.0, edit=1.0, simple=1.0)
        else:
            scores = counted_similarity(old_side.counted(before), new_side.counted(after), *ints)
        return _compare(status, [old[i] for i in before], [new[j] for j in after], scores, score)

    absorbed_old: set[int] = set()
    absorbed_new: set[int] = set()
    changes: list[FactorChange] = []
    for i, pieces in matching.splits:
        absorbed_old.add(i)
        absorbed_new.update(pieces)
        changes.append(compare(ChangeStatus.SPLIT, [i], pieces, None))
    for parts, j in matching.merges:
        if j in absorbed_new or absorbed_old.intersection(parts):
            continue
        absorbed_old.update(parts)
        absorbed_new.add(j)
        changes.append(compare(ChangeStatus.MERGED, parts, [j], None))
    for i, j in matching.pairs:
        if i in absorbed_old or j in absorbed_new:
            continue
        status = ChangeStatus.UNCHANGED if (i, j) in matching.unchanged else ChangeStatus.MODIFIED
        changes.append(compare(status, [i], [j], matching.scores[(i, j)]))
    for j in matching.new:
        if j not in absorbed_new:
            changes.append(_one_sided(ChangeStatus.NEW, new[j]))
    for i in matching.removed:
        if i not in absorbed_old:
            changes.append(_one_sided(ChangeStatus.REMOVED, old[i]))
    # Current document order; removed factors (no current position) last, in old order.
    changes.sort(
        key=lambda c: (
            (0, min(c.current), min(c.previous, default=-1)) if c.current else (1, min(c.previous), 0)
        )
    )
    return changes


def _compare(
    status: ChangeStatus,
    before: Sequence[RiskFactor],
    after: Sequence[RiskFactor],
    scores: SimilarityScores,
    score: float | None,
) -> FactorChange:
    added: list[str] = []
    removed: list[str] = []
    if status is not ChangeStatus.UNCHANGED:
        old_sentences = sentences("\n".join(_full(f) for f in before))
        new_sentences = sentences("\n".join(_full(f) for f in after))
        # Sentences are already space-normalised; case aside, any edit (even a number) counts.
        old_lower = [s.lower() for s in old_sentences]
        new_lower = [s.lower() for s in new_sentences]
        old_keys, new_keys = set(old_lower), set(new_lower)
        added = [s for s, key in zip(new_sentences, new_lower, strict=True) if key not in old_keys]
        removed = [s for s, key in zip(old_sentences, old_lower, strict=True) if key not in new_keys]
    old_tone = _net_tone(before)
    new_tone = _net_tone(after)
    return FactorChange(
        status=status,
        previous=[f.position for f in before],
        current=[f.position for f in after],
        heading=after[0].heading,
        category=after[0].category,
        match_score=round6(score) if score is not None else None,
        similarity=scores,
        added_sentences=added,
        removed_sentences=removed,
        net_tone_change=round6(new_tone - old_tone),
    )


def _net_tone(factors: Sequence[RiskFactor]) -> float:
    """Word-weighted mean net tone of several factors (one factor: its own net tone)."""
    total = sum(f.words for f in factors)
    return sum(f.tone.net_tone * f.words for f in factors) / total if total else 0.0


def _one_sided(status: ChangeStatus, factor: RiskFactor) -> FactorChange:
    side = [factor.position]
    return FactorChange(
        status=status,
        previous=side if status is ChangeStatus.REMOVED else [],
        current=side if status is ChangeStatus.NEW else [],
        heading=factor.heading,
        category=factor.category,
    )


def _category_drift(old: _Side, new: _Side, changes: Sequence[FactorChange]) -> list[CategoryDrift]:
    hints = _indel_hints(changes, old, new)
    rows: list[CategoryDrift] = []
    for category in RiskCategory:
        before = [f.position for f in old.factors if f.category is category]
        after = [f.position for f in new.factors if f.category is category]
        if not before and not after:
            continue
        old_words, new_words = old.size(before), new.size(after)
        old_tone, new_tone = old.tone(before), new.tone(after)
        hint = hints.get(category, 0)
        rows.append(
            CategoryDrift(
                category=category,
                previous_count=len(before),
                current_count=len(after),
                count_change=len(after) - len(before),
                previous_words=old_words,
                current_words=new_words,
                words_change=new_words - old_words,
                previous_net_tone=old_tone.net_tone,
                current_net_tone=new_tone.net_tone,
                net_tone_change=round6(new_tone.net_tone - old_tone.net_tone),
                previous_negative=old_tone.negative,
                current_negative=new_tone.negative,
                negative_change=round6(new_tone.negative - old_tone.negative),
                drift=(
                    round6(1.0 - simple_similarity_ints(old.integers(before), new.integers(after), hint))
                    if before and after
                    else 1.0
                ),
            )
        )
    return rows
