"""One-to-one matching of risk factors across two years, with split and merge detection.

Procedure (deterministic; every tie is broken by position):

1. **Unchanged.** Factors whose word tokens (heading and body; see
   :func:`acquire.analysis.text.words`) are equal are paired first, in order.
2. **Modified.** Every remaining old x new pair gets a score combining body and heading
   similarity, both tf-idf weighted cosines. The idf is ``log(N / df)`` over the headings and
   bodies of the still unpaired factors of both years, so boilerplate such as "could
   adversely affect our business" carries little or no weight::

       score = (1 - w) * body + w * heading,   w = 0.35 if both headings are specific else 0

   A heading is *specific* when it has at least :data:`SPECIFIC_HEADING_WORDS` distinct
   non-stop words; "General" or "Competition" is not, so it cannot drive a match. A pair is
   eligible when ``body >= MIN_BODY`` and ``score >= MIN_SCORE``; eligible pairs are taken
   greedily by descending score.
3. **Shared content.** A factor reworded and much expanded (or cut) scores low on cosine:
   its heading changes and the added text dilutes the body vector. The remaining pairs are
   therefore also scored by *containment*: the share of the shorter body's distinctive word
   trigrams (those found in at most :data:`MAX_TRIGRAM_FACTORS` factor bodies of both
   years, so boilerplate such as "could adversely affect" does not count) that occur in
   the longer body. Pairs with containment ``>= MIN_CONTAINMENT`` are taken greedily.
4. **New / removed.** What is left unpaired.
5. **Splits and merges.** An unpaired new factor *derives* from the old factor that holds the
   largest share of its word trigrams (at least :data:`MIN_DERIVED`). An old factor whose
   derived pieces (including its own match, if that also derives from it) are two or more and
   together hold at least :data:`MIN_COVERAGE` of its trigrams was split. Merges are the
   mirror image: several old factors contained in one new factor.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import mul, truediv

from acquire.analysis.splits import (
    MAX_TRIGRAM_FACTORS,
    MIN_CONTAINMENT,
    MIN_COVERAGE,
    MIN_DERIVED,
    best_first,
    by_containment,
    splits_and_merges,
    trigrams,
)

__all__ = [
    "MAX_TRIGRAM_FACTORS",
    "MIN_BODY",
    "MIN_CONTAINMENT",
    "MIN_COVERAGE",
    "MIN_DERIVED",
    "MIN_SCORE",
    "SPECIFIC_HEADING_WORDS",
    "FactorText",
    "Matching",
    "match_factors",
]

MIN_BODY = 0.30
MIN_SCORE = 0.40
HEADING_WEIGHT = 0.35
SPECIFIC_HEADING_WORDS = 4
# Far above the rounding error of float sums of a few hundred products of unit-vector weights.
_SUM_SLACK = 1e-9
# Fixed-point weights for the candidate search (:func:`_body_candidates`): a lane sums to
# at most 2**30 and holds 32 bits (narrow lanes keep the packed integers short; the coarser
# weights add about 0.001 to the bound, a few more pairs to score exactly).
_SCALE = 1 << 15
_LANE_BITS = 32

_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "not",
        "of",
        "on",
        "or",
        "our",
        "such",
        "that",
        "the",
        "their",
        "there",
        "these",
        "this",
        "to",
        "us",
        "we",
        "which",
        "will",
        "with",
        "would",
        "risk",
        "risks",
        "related",
        "relating",
        "general",
        "other",
    ]
)


@dataclass(frozen=True, slots=True)
class FactorText:
    """One factor as the matcher sees it: the word tokens of its heading and body.

    ``heading_counts`` and ``body_counts`` count them, once for the classification, the tone,
    the tf-idf vectors and the similarity measures.
    """

    heading: list[str]
    body: list[str]
    heading_counts: Counter[str] = field(init=False, repr=False, compare=False)
    body_counts: Counter[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "heading_counts", Counter(self.heading))
        object.__setattr__(self, "body_counts", Counter(self.body))

    @property
    def size(self) -> int:
        """The number of tokens, heading and body."""
        return len(self.heading) + len(self.body)

    @property
    def full(self) -> list[str]:
        """Heading and body tokens."""
        return self.heading + self.body


@dataclass(slots=True)
class Matching:
    """The outcome: index pairs (old, new) with their scores, and splits/merges."""

    pairs: list[tuple[int, int]] = field(default_factory=list)
    scores: dict[tuple[int, int], float] = field(default_factory=dict)
    unchanged: set[tuple[int, int]] = field(default_factory=set)
    removed: list[int] = field(default_factory=list)
    new: list[int] = field(default_factory=list)
    splits: list[tuple[int, list[int]]] = field(default_factory=list)
    merges: list[tuple[list[int], int]] = field(default_factory=list)


def match_factors(previous: Sequence[FactorText], current: Sequence[FactorText]) -> Matching:
    """Match ``previous`` to ``current`` factors (procedure in the module docstring)."""
    result = Matching()
    old_norm = [" ".join(f.full) for f in previous]
    new_norm = [" ".join(f.full) for f in current]
    by_text: dict[str, list[int]] = {}
    for index, text in enumerate(old_norm):
        by_text.setdefault(text, []).append(index)
    old_of: dict[int, int] = {}
    for j, text in enumerate(new_norm):
        waiting = by_text.get(text)
        if waiting:
            i = waiting.pop(0)
            old_of[j] = i
            result.unchanged.add((i, j))
            result.scores[(i, j)] = 1.0

    free_old = [i for i in range(len(previous)) if i not in set(old_of.values())]
    free_new = [j for j in range(len(current)) if j not in old_of]
    if free_old and free_new:
        for i, j, score in _greedy(previous, current, free_old, free_new):
            old_of[j] = i
            result.scores[(i, j)] = score
    taken = set(old_of.values())
    free_old = [i for i in range(len(previous)) if i not in taken]
    free_new = [j for j in range(len(current)) if j not in old_of]
    # Body trigrams of both years (old factors first): containment needs them all, and splits
    # share them; without containment, splits compute only those they compare.
    grams: list[set[tuple[str, str, str]]] | None = None
    if free_old and free_new:
        grams = [trigrams(f.body) for f in (*previous, *current)]
        for i, j, score in by_containment(grams, len(previous), free_old, free_new):
            old_of[j] = i
            result.scores[(i, j)] = score

    result.pairs = sorted(((i, j) for j, i in old_of.items()), key=lambda p: (p[1], p[0]))
    matched_old = {i for i, _ in result.pairs}
    result.removed = [i for i in range(len(previous)) if i not in matched_old]
    result.new = [j for j in range(len(current)) if j not in old_of]
    splits_and_merges(previous, current, grams, result)
    return result


def _greedy(
    previous: Sequence[FactorText],
    current: Sequence[FactorText],
    free_old: list[int],
    free_new: list[int],
) -> list[tuple[int, int, float]]:
    old_body = {i: previous[i].body_counts for i in free_old}
    new_body = {j: current[j].body_counts for j in free_new}
    old_head = {i: previous[i].heading_counts for i in free_old}
    new_head = {j: current[j].heading_counts for j in free_new}
    documents = [*old_body.values(), *new_body.values(), *old_head.values(), *new_head.values()]
    # Iterating a Counter gives its words: one C pass counts the documents holding each.
    frequency = Counter(chain.from_iterable(documents))
    total = len(documents)
    # Plain log(N/df): a word in every factor (the, our, business) weighs nothing.
    idf = dict(zip(frequency, map(math.log, map(truediv, repeat(total), frequency.values())), strict=True))

    ob = {i: _vector(c, idf) for i, c in old_body.items()}
    nb = {j: _vector(c, idf) for j, c in new_body.items()}
    oh = {i: _vector(c, idf) for i, c in old_head.items()}
    nh = {j: _vector(c, idf) for j, c in new_head.items()}
    o_specific = {i: _specific(previous[i].heading) for i in free_old}
    n_specific = {j: _specific(current[j].heading) for j in free_new}

    eligible: list[tuple[float, int, int]] = []
    for i, j in _body_candidates(ob, nb):
        body = _cosine(ob[i], nb[j])
        if body < MIN_BODY:
            continue
        weight = HEADING_WEIGHT if o_specific[i] and n_specific[j] else 0.0
        score = round((1.0 - weight) * body + weight * _cosine(oh[i], nh[j]), 9)
        if score >= MIN_SCORE:
            eligible.append((-score, i, j))
    return best_first(eligible)


def _body_candidates(
    old: dict[int, dict[str, float]], new: dict[int, dict[str, float]]
) -> list[tuple[int, int]]:
    """The (old, new) pairs whose body cosine may reach :data:`MIN_BODY`, in (old, new) order.

    Only a few pairs do, so every pair's dot product is first estimated at once, in integer
    arithmetic: each word's weights in the new bodies are packed side by side, one
    :data:`_LANE_BITS`-bit lane per body, into one Python int (a weight ``w`` as
    ``floor(w * _SCALE)``), so one multiplication by an old body's weight adds that word's
    term to all of the old body's pairs at C speed. The weights are non-negative and the
    vectors unit vectors, so a lane sums to at most ``_SCALE ** 2`` (Cauchy-Schwarz) and
    never carries into the next. Rounding the weights down loses less than
    ``(|a|_1 + |b|_1) / _SCALE`` of a dot product; a pair whose estimate plus that bound
    reaches the threshold is a candidate, and :func:`_cosine` then scores it exactly.
    """
    packed: dict[str, int] = {}
    for lane, vector in enumerate(new.values()):
        shift = _LANE_BITS * lane
        for word, fixed in zip(vector, _fixed(vector), strict=True):
            packed[word] = packed.get(word, 0) + (fixed << shift)
    columns = [(j, math.fsum(vector.values()) / _SCALE) for j, vector in new.items()]
    unpack = struct.Struct(f"<{len(columns)}I").unpack
    width = _LANE_BITS // 8 * len(columns)
    square = float(_SCALE * _SCALE)
    floor = MIN_BODY - _SUM_SLACK
    candidates: list[tuple[int, int]] = []
    for i, vector in old.items():
        shared = vector.keys() & packed.keys()
        total: int = sum(map(mul, _fixed(vector, shared), map(packed.__getitem__, shared)))
        lost = math.fsum(vector.values()) / _SCALE
        sums = unpack(total.to_bytes(width, "little"))
        candidates.extend(
            (i, j)
            for (j, bound), value in zip(columns, sums, strict=True)
            if value / square + lost + bound >= floor
        )
    return candidates


def _fixed(vector: dict[str, float], words: Iterable[str] | None = None) -> Iterator[int]:
    """The weights of ``words`` (default: all, in order) as ``floor(weight * _SCALE)``."""
    weights = vector.values() if words is None else map(vector.__getitem__, words)
    return map(int, map(mul, weights, repeat(_SCALE)))


def _specific(tokens: list[str]) -> bool:
    return len({t for t in tokens if t not in _STOP}) >= SPECIFIC_HEADING_WORDS


def _vector(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    # map() keeps the per-word arithmetic in C (this runs for every body and heading).
    weights = list(map(mul, counts.values(), map(idf.__getitem__, counts)))
    norm = math.sqrt(sum(map(mul, weights, weights)))
    return dict(zip(counts, map(truediv, weights, repeat(norm)), strict=True)) if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    shared = a.keys() & b.keys()
    # fsum is exact, so the result does not depend on the (hash-seeded) order of the set;
    # map() keeps the per-word products in C (this runs for every old x new pair).
    return math.fsum(map(mul, map(a.__getitem__, shared), map(b.__getitem__, shared)))
