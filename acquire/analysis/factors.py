"""Split an extracted Item 1A into individual, scored risk factors, and say how well it went.

The headings are found by typography when the document has any
(:mod:`acquire.analysis.headings`), and otherwise by layout (:mod:`acquire.analysis.layout`:
plain text, or HTML without emphasis). Every word after the first factor heading belongs to
a factor: a factor's body runs to the next heading, and text between a caption and the next
heading (a caption's introduction) joins the factor before it. Captions become the
``group`` of the factors under them.

:func:`segment_risk_factors` also returns a :class:`~acquire.analysis.models.Segmentation`
record: the method, the heading style, the coverage and the warnings a user can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain

from acquire.analysis.blocks import PLAIN, Block
from acquire.analysis.headings import Start, describe, styled_headings
from acquire.analysis.item1a import Item1ASection
from acquire.analysis.items import item_of
from acquire.analysis.layout import layout_headings
from acquire.analysis.lexicon import Lexicon, tone_counts, tone_scores
from acquire.analysis.matching import FactorText
from acquire.analysis.models import RiskCategory, RiskFactor, Segmentation, SegmentationMethod, ToneScores
from acquire.analysis.taxonomy import classify
from acquire.analysis.text import round6, words

__all__ = [
    "MIN_COVERAGE",
    "MIN_SECTION_WORDS",
    "SegmentedSection",
    "segment_risk_factors",
    "segment_years",
    "split_risk_factors",
]

MIN_COVERAGE = 0.9
"""Below this share of the section's words inside factors, the split is doubtful."""
MIN_SECTION_WORDS = 500
"""A shorter Item 1A is a stub, a cross-reference or a smaller reporting company's note."""
# Real risk factors run to a few hundred words each; one per this many words is too few.
_MAX_WORDS_PER_FACTOR = 2500
_MIN_STYLED_UNITS = 2
# An introduction and a summary rarely hold more than a third of the section.
_MAX_PREAMBLE = 0.4


@dataclass(frozen=True, slots=True)
class SegmentedSection:
    """Factors in document order and the record of how they were found.

    ``texts`` holds each factor's word tokens (parallel to ``factors``), so that matching and
    the drift figures need not tokenise the factors again; ``tones`` its tone class counts
    (:func:`~acquire.analysis.lexicon.tone_counts`), which add up over a group of factors;
    ``tokens`` the whole section's, ``words(section.text)``; ``spans`` for each factor the
    slice of ``tokens`` from its heading to the next heading or caption (its tokens when no
    caption's introduction joined it and its heading's words are its heading blocks').
    """

    factors: list[RiskFactor]
    segmentation: Segmentation
    texts: list[FactorText] = field(default_factory=list)
    tones: list[list[int]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def span_of(self, position: int) -> tuple[int, int] | None:
        """The slice of ``tokens`` that holds exactly factor ``position``'s tokens, if one does."""
        if len(self.spans) != len(self.texts):
            return None
        start, end = self.spans[position]
        text = self.texts[position]
        return (start, end) if self.tokens[start:end] == text.heading + text.body else None


def split_risk_factors(section: Item1ASection, lexicon: Lexicon | None = None) -> list[RiskFactor]:
    """Split ``section`` into risk factors in document order, each classified and toned."""
    return segment_risk_factors(section, lexicon).factors


def segment_risk_factors(section: Item1ASection, lexicon: Lexicon | None = None) -> SegmentedSection:
    """:func:`split_risk_factors` with the :class:`~acquire.analysis.models.Segmentation`
    record of the split (method, heading style, coverage, warnings)."""
    return _segment(section, lexicon, _Shared())


def segment_years(
    previous: Item1ASection, current: Item1ASection, lexicon: Lexicon | None = None
) -> tuple[SegmentedSection, SegmentedSection]:
    """:func:`segment_risk_factors` of two years of one filer's Item 1A.

    The same as two separate calls, but most paragraphs (and some whole factors) recur from
    one year to the next: a recurring paragraph is tokenised once, a recurring factor
    counted, classified and toned once.
    """
    shared = _Shared()
    return _segment(previous, lexicon, shared), _segment(current, lexicon, shared)


@dataclass(slots=True)
class _Shared:
    """Results that depend only on a text, kept across the segmentations of one analysis.

    ``tokens`` maps a block's text to its words; ``factors`` a factor's heading and body to
    its tokens, tone counts, category and tone. A factor's tokens are its heading's words and
    its body's (the words of texts joined by newlines are the texts' words in turn), so equal
    texts give equal results.
    """

    tokens: dict[str, list[str]] = field(default_factory=dict)
    factors: dict[tuple[str, str], tuple[FactorText, list[int], RiskCategory, ToneScores]] = field(
        default_factory=dict
    )

    def words(self, text: str) -> list[str]:
        found = self.tokens.get(text)
        if found is None:
            found = self.tokens[text] = words(text)
        return found


def _segment(section: Item1ASection, lexicon: Lexicon | None, shared: _Shared) -> SegmentedSection:
    blocks = _without_item_heading(section.blocks)
    # Each block is tokenised once: the words of texts joined by newlines are the texts'
    # words in turn, so factors and the whole section are made of these.
    block_tokens = [shared.words(b.text) for b in blocks]
    method: SegmentationMethod
    styled = any(style != PLAIN for b in blocks for _, style in b.runs)
    found = styled_headings(blocks) if styled else None
    if found is not None and found.units >= _MIN_STYLED_UNITS:
        method, starts, style = "html-styles", found.starts, describe(found.style, found.run_in, found.marked)
    else:
        method = "layout" if styled else "plain-text"
        starts, style = layout_headings(blocks), "layout"
    factors, texts, tones = _assemble(blocks, block_tokens, starts, lexicon, shared)
    first = next((s for s in starts if not s.caption), None)
    end = first.index if first else len(blocks)
    preamble = sum(map(len, block_tokens[:end]))
    inside = sum(f.words for f in factors)
    # After the first heading every word is in a factor or in a caption.
    captions = sum(len(words(s.heading)) for s in starts if s.caption and s.index > end)
    total = preamble + inside + captions
    coverage = round6(inside / (total - preamble)) if factors and total > preamble else 0.0
    record = Segmentation(
        method=method,
        heading_style=style,
        factors=len(factors),
        words=total,
        preamble_words=preamble,
        coverage=coverage,
        warnings=_warnings(factors, total, preamble, coverage, style),
    )
    dropped = [shared.words(b.text) for b in section.blocks[: len(section.blocks) - len(blocks)]]
    tokens = list(chain.from_iterable(dropped + block_tokens))
    offsets = list(accumulate(map(len, block_tokens), initial=sum(map(len, dropped))))
    # Each factor's blocks, up to the next start: where a factor's tokens are those blocks'
    # (nearly always), the drift figures take them from the section's.
    ends = [s.index for s in starts[1:]] + [len(blocks)] * bool(starts)
    spans = [(offsets[s.index], offsets[e]) for s, e in zip(starts, ends, strict=True) if not s.caption]
    return SegmentedSection(factors, record, texts, tones, tokens, spans)


def _without_item_heading(blocks: Sequence[Block]) -> list[Block]:
    kept = list(blocks)
    # "ITEM 1A." and "RISK FACTORS" may be two blocks.
    while kept and (item_of(kept[0].text) == "1A" or kept[0].text.strip(" .:").lower() == "risk factors"):
        kept.pop(0)
    return kept


def _warnings(
    factors: Sequence[RiskFactor], total: int, preamble: int, coverage: float, style: str
) -> list[str]:
    found: list[str] = []
    if total < MIN_SECTION_WORDS:
        found.append(f"Item 1A has only {total} words: it may be a stub, a cross-reference or incomplete.")
    if not factors:
        found.append("No risk-factor headings were recognised: the section could not be split into factors.")
        return found
    if coverage < MIN_COVERAGE:
        found.append(
            f"Only {coverage:.0%} of Item 1A's words are inside the {len(factors)} factors found: "
            "headings may have been missed or misread."
        )
    if preamble > _MAX_PREAMBLE * total:
        found.append(
            f"The first factor heading comes after {preamble / total:.0%} of Item 1A's words: "
            "earlier headings may be in a style that was not recognised."
        )
    if total > _MAX_WORDS_PER_FACTOR and len(factors) * _MAX_WORDS_PER_FACTOR < total:
        found.append(
            f"The heading style ({style}) marks only {len(factors)} factors for {total:,} words: "
            "some headings are probably in another style and were merged into bodies."
        )
    return found


def _assemble(
    blocks: Sequence[Block],
    block_tokens: Sequence[list[str]],
    starts: list[Start],
    lexicon: Lexicon | None,
    shared: _Shared,
) -> tuple[list[RiskFactor], list[FactorText], list[list[int]]]:
    group: str | None = None
    # Per factor: its start, group, body texts and their tokens.
    pending: list[tuple[Start, str | None, list[str], list[list[str]]]] = []
    bounds = [s.index for s in starts] + [len(blocks)]
    for number, start in enumerate(starts):
        following = [b.text for b in blocks[start.end : bounds[number + 1]]]
        tokens = list(block_tokens[start.end : bounds[number + 1]])
        if start.caption:
            group = start.heading
            if pending:  # a caption's introduction belongs to no heading: keep it, before the caption
                pending[-1][2].extend(following)
                pending[-1][3].extend(tokens)
            continue
        if start.rest:
            following.insert(0, start.rest)
            tokens.insert(0, words(start.rest))
        pending.append((start, group, following, tokens))
    factors: list[RiskFactor] = []
    texts: list[FactorText] = []
    tones: list[list[int]] = []
    for start, in_group, body_parts, body_tokens in pending:
        body = "\n".join(body_parts)
        key = (start.heading, body)
        known = shared.factors.get(key)
        if known is None:
            text = FactorText(heading=words(start.heading), body=list(chain.from_iterable(body_tokens)))
            counts = (text.heading_counts, text.body_counts)
            tone = tone_counts(counts, lexicon)
            category = classify(text.heading, text.body, counts)
            known = shared.factors[key] = (text, tone, category, tone_scores(tone, text.size))
        text, tone, category, tone_figures = known
        texts.append(text)
        tones.append(tone)
        factors.append(
            RiskFactor(
                position=len(factors),
                heading=start.heading,
                body=body,
                group=in_group,
                words=text.size,
                category=category,
                tone=tone_figures,
            )
        )
    return factors, texts, tones
