"""The four "Lazy Prices" similarity measures (Cohen, Malloy and Nguyen, 2020).

All four compare two word sequences (tokens of :func:`acquire.analysis.text.words`) and lie
in [0, 1], 1 meaning identical. Two empty texts are identical (1.0); an empty text against a
non-empty one scores 0.0.

* **cosine** -- cosine of the term-frequency vectors: ``sum(a_w * b_w) / (|a| * |b|)`` where
  ``a_w`` counts word ``w`` in the first text. Insensitive to order.
* **jaccard** -- ``|A & B| / |A | B|`` for the sets of distinct words A, B.
* **edit** -- ``1 - levenshtein(a, b) / max(len(a), len(b))``: the minimum number of word
  insertions, deletions and substitutions turning one sequence into the other, as a
  similarity.
* **simple** -- the paper's diff-based "simple" similarity: a minimal diff (as ``diff`` or a
  word processor's track changes reports it) keeps the longest common subsequence (LCS) of
  words and marks every other word added or deleted, so
  ``simple = 1 - (added + deleted) / (len(a) + len(b)) = 2 * LCS / (len(a) + len(b))``.
  This is difflib's ``SequenceMatcher.ratio()`` with an exact LCS instead of difflib's
  junk-heuristic approximation.

The edit and simple measures run in rapidfuzz's bit-parallel C implementations over words
mapped to integers, which keeps a whole-section comparison (15-30 thousand words per side)
in milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from itertools import chain, count
from operator import itemgetter, mul

from rapidfuzz.distance import LCSseq, Levenshtein

from acquire.analysis.models import SimilarityScores
from acquire.analysis.text import round6

__all__ = [
    "Vocabulary",
    "cosine_similarity",
    "counted_similarity",
    "edit_similarity",
    "jaccard_similarity",
    "similarity",
    "simple_similarity",
    "simple_similarity_ints",
]

# The first Levenshtein band (rapidfuzz doubles it until the distance fits).
_EDIT_HINT = 64


def cosine_similarity(a: list[str], b: list[str]) -> float:
    """Cosine similarity of the term-frequency vectors of ``a`` and ``b``."""
    if not a or not b:
        return 1.0 if not a and not b else 0.0
    return _cosine(Counter(a), Counter(b))


def jaccard_similarity(a: list[str], b: list[str]) -> float:
    """Jaccard similarity of the sets of distinct words of ``a`` and ``b``."""
    if not a and not b:
        return 1.0
    return _jaccard(Counter(a), Counter(b))


def edit_similarity(a: list[str], b: list[str]) -> float:
    """``1 - word-level Levenshtein distance / max(len(a), len(b))``."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    ia, ib = _as_ints(a, b)
    return 1.0 - Levenshtein.distance(ia, ib) / longest


def simple_similarity(a: list[str], b: list[str]) -> float:
    """Diff-based similarity ``2 * LCS(a, b) / (len(a) + len(b))`` over words."""
    if not a and not b:
        return 1.0
    return 1.0 - _indel(*_as_ints(a, b)) / (len(a) + len(b))


def similarity(a: list[str], b: list[str]) -> SimilarityScores:
    """All four measures, rounded to 6 decimals."""
    if not a and not b:
        return SimilarityScores(cosine=1.0, jaccard=1.0, edit=1.0, simple=1.0)
    # Each text is counted once for the cosine, the Jaccard sets and the integer vocabulary.
    ca, cb = Counter(a), Counter(b)
    return counted_similarity(ca, cb, *_as_ints(a, b, chain(ca, cb)))


class Vocabulary:
    """Words as small integers, one table for all the comparisons of an analysis.

    The edit and simple measures compare integer sequences (rapidfuzz is fast on them) and
    do not depend on which integer a word gets, so texts tokenised once are mapped once.
    """

    __slots__ = ("_index",)

    def __init__(self, *texts: Iterable[str]) -> None:
        self._index: dict[str, int] = dict(zip(dict.fromkeys(chain.from_iterable(texts)), count()))

    def ints(self, tokens: list[str]) -> list[int]:
        """``tokens`` as integers (a word not seen before gets the next free one)."""
        index = self._index
        if len(tokens) < 2:  # itemgetter of one key returns the value itself
            return [index.setdefault(token, len(index)) for token in tokens]
        try:
            # One C call for all the lookups: faster than map() over a bound method.
            return list(itemgetter(*tokens)(index))
        except KeyError:
            for token in tokens:
                index.setdefault(token, len(index))
            return list(itemgetter(*tokens)(index))


def counted_similarity(
    ca: Counter[str], cb: Counter[str], a: list[int], b: list[int], edit_hint: int = 0
) -> SimilarityScores:
    """:func:`similarity` of two texts given as word counts and as :class:`Vocabulary` integers.

    ``edit_hint`` optionally estimates the Levenshtein distance (a good one saves rapidfuzz
    the narrower bands it would try first); the scores do not depend on it.
    """
    if not a and not b:
        return SimilarityScores(cosine=1.0, jaccard=1.0, edit=1.0, simple=1.0)
    if a == b:
        # Identical texts score 1 on every measure (the cosine of equal vectors rounds to it).
        return SimilarityScores(cosine=1.0, jaccard=1.0, edit=1.0, simple=1.0)
    edit, indel = _distances(a, b, max(edit_hint, _EDIT_HINT))
    return SimilarityScores(
        cosine=round6(_cosine(ca, cb) if a and b else 0.0),
        jaccard=round6(_jaccard(ca, cb)),
        edit=round6(1.0 - edit / max(len(a), len(b))),
        simple=round6(1.0 - indel / (len(a) + len(b))),
    )


def simple_similarity_ints(a: list[int], b: list[int], indel_hint: int = 0) -> float:
    """:func:`simple_similarity` of two texts as :class:`Vocabulary` integers.

    ``indel_hint`` optionally estimates the Indel distance (where the banded search starts);
    the score does not depend on it.
    """
    if not a and not b:
        return 1.0
    return 1.0 - _indel(a, b, max(indel_hint, _EDIT_HINT)) / (len(a) + len(b))


def _cosine(ca: Counter[str], cb: Counter[str]) -> float:
    """The cosine of two non-empty count vectors (integer sums: exact in any order)."""
    shared = ca.keys() & cb.keys()
    dot: int = sum(map(mul, map(ca.__getitem__, shared), map(cb.__getitem__, shared)))
    # One square root of the product of the (integer) squared norms: identical count vectors
    # then give exactly 1.0 rather than 0.9999999999999998.
    norm = math.sqrt(sum(map(mul, ca.values(), ca.values())) * sum(map(mul, cb.values(), cb.values())))
    return min(1.0, dot / norm)


def _jaccard(ca: Counter[str], cb: Counter[str]) -> float:
    """The Jaccard similarity of the distinct words of two count vectors, not both empty."""
    shared = len(ca.keys() & cb.keys())
    return shared / (len(ca) + len(cb) - shared)


def _distances(a: list[int], b: list[int], hint: int = _EDIT_HINT) -> tuple[int, int]:
    """The Levenshtein and Indel distances of ``a`` and ``b``, each computed in a narrow band.

    Without a bound rapidfuzz fills the whole ``len(a) x len(b)`` matrix (bit-parallel); with
    one it fills only a band around the diagonal, which for two years of one section (most
    words kept) is several times faster. ``score_hint`` widens Levenshtein's band until the
    distance fits, and ``Levenshtein <= Indel <= 2 * Levenshtein`` (a substitution is a
    deletion plus an insertion) bounds Indel's: a miss at the first, tighter bound is retried
    at the sure one.
    """
    edit = Levenshtein.distance(a, b, score_hint=hint)
    indel = _indel_within(a, b, edit + edit // 4)
    return edit, indel if indel is not None else _indel(a, b, 2 * edit)


def _indel(a: list[int], b: list[int], bound: int = _EDIT_HINT) -> int:
    """The Indel distance of ``a`` and ``b``, in a band doubled until the distance fits."""
    bound = max(bound, abs(len(a) - len(b)), 1)
    while (distance := _indel_within(a, b, bound)) is None:
        bound *= 2
    return distance


def _indel_within(a: list[int], b: list[int], bound: int) -> int | None:
    """The Indel distance of ``a`` and ``b`` if it is at most ``bound``, else None.

    Indel is ``len(a) + len(b) - 2 * LCS``, and rapidfuzz's LCS with a lower bound runs about
    twice as fast as its Indel with the equivalent upper bound (the same band). Below
    ``score_cutoff`` it returns 0.
    """
    lengths = len(a) + len(b)
    floor = max(0, (lengths - bound + 1) // 2)
    common = LCSseq.similarity(a, b, score_cutoff=floor)
    return lengths - 2 * common if common >= floor else None


def _as_ints(
    a: list[str], b: list[str], vocabulary_words: Iterable[str] | None = None
) -> tuple[list[int], list[int]]:
    """Map words to small integers shared by both sequences (rapidfuzz compares them fast).

    ``vocabulary_words`` lists every word of both (with repeats or not; the distances do not
    depend on which integer a word gets); by default the sequences themselves.
    """
    # dict.fromkeys and map(dict.__getitem__) run in C: ~3x faster than a setdefault loop.
    distinct = dict.fromkeys(chain(a, b) if vocabulary_words is None else vocabulary_words)
    vocabulary = {word: index for index, word in enumerate(distinct)}
    lookup = vocabulary.__getitem__
    return list(map(lookup, a)), list(map(lookup, b))
