"""Shared-content matching of risk factors: containment, splits and merges, by word trigrams.

Steps 3 and 5 of the procedure in :mod:`acquire.analysis.matching`, which owns the thresholds'
meaning; this module holds their values and the trigram sets they are measured on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = [
    "MAX_TRIGRAM_FACTORS",
    "MIN_CONTAINMENT",
    "MIN_COVERAGE",
    "MIN_DERIVED",
    "best_first",
    "by_containment",
    "splits_and_merges",
    "trigrams",
]

MIN_DERIVED = 0.5
MIN_COVERAGE = 0.6
MIN_CONTAINMENT = 0.3
MAX_TRIGRAM_FACTORS = 2
# A body shorter than this many distinctive trigrams is too small to judge by containment.
_MIN_TRIGRAMS = 20
_Trigram = tuple[str, str, str]


class FactorText(Protocol):
    """What this module reads of :class:`acquire.analysis.matching.FactorText`."""

    @property
    def heading(self) -> list[str]: ...

    @property
    def body(self) -> list[str]: ...


class Matching(Protocol):
    """What this module reads and adds to of :class:`acquire.analysis.matching.Matching`."""

    pairs: list[tuple[int, int]]
    unchanged: set[tuple[int, int]]
    removed: list[int]
    new: list[int]
    splits: list[tuple[int, list[int]]]
    merges: list[tuple[list[int], int]]


def by_containment(
    grams: list[set[_Trigram]], old_count: int, free_old: list[int], free_new: list[int]
) -> list[tuple[int, int, float]]:
    """Pairs of unpaired factors by containment (step 3 of :mod:`acquire.analysis.matching`),
    greedily by descending containment; ``grams`` holds every body's :func:`trigrams`."""
    spread: Counter[_Trigram] = Counter()
    for found in grams:
        spread.update(found)
    old = {i: {g for g in grams[i] if spread[g] <= MAX_TRIGRAM_FACTORS} for i in free_old}
    new = {j: {g for g in grams[old_count + j] if spread[g] <= MAX_TRIGRAM_FACTORS} for j in free_new}
    eligible: list[tuple[float, int, int]] = []
    for i in free_old:
        for j in free_new:
            smaller = min(len(old[i]), len(new[j]))
            if smaller < _MIN_TRIGRAMS:
                continue
            value = round(len(old[i] & new[j]) / smaller, 9)
            if value >= MIN_CONTAINMENT:
                eligible.append((-value, i, j))
    return best_first(eligible)


def best_first(eligible: list[tuple[float, int, int]]) -> list[tuple[int, int, float]]:
    """One-to-one pairs from ``(-score, old, new)`` candidates, the best score first (ties by
    index); a factor already paired is skipped. Returns ``(old, new, score)``."""
    eligible.sort()
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    chosen: list[tuple[int, int, float]] = []
    for negative, i, j in eligible:
        if i not in taken_old and j not in taken_new:
            taken_old.add(i)
            taken_new.add(j)
            chosen.append((i, j, -negative))
    return chosen


def trigrams(tokens: list[str]) -> set[_Trigram]:
    """The word trigrams of ``tokens``."""
    return set(zip(tokens, tokens[1:], tokens[2:], strict=False))


def _full_trigrams(factor: FactorText, body: set[_Trigram]) -> set[_Trigram]:
    """Trigrams of ``factor.full`` from its body's: only those starting in the heading are new."""
    return body | trigrams(factor.heading + factor.body[:2])


def splits_and_merges(
    previous: Sequence[FactorText],
    current: Sequence[FactorText],
    body_grams: list[set[_Trigram]] | None,
    result: Matching,
) -> None:
    """Add ``result``'s splits and merges (step 5 of :mod:`acquire.analysis.matching`).

    ``body_grams`` holds the :func:`trigrams` of every body, old factors first, if they were
    computed for :func:`by_containment`; else the factors compared get theirs on demand.
    """
    if not result.new and not result.removed:
        return
    old_grams = _FullGrams(previous, body_grams, 0)
    new_grams = _FullGrams(current, body_grams, len(previous))
    new_of = {i: j for i, j in result.pairs}
    old_of = {j: i for i, j in result.pairs}
    for i, pieces in _wholes(
        result.new, new_grams, old_grams, new_of, lambda i, j: (i, j) in result.unchanged
    ):
        result.splits.append((i, pieces))
    for j, parts in _wholes(
        result.removed, old_grams, new_grams, old_of, lambda j, i: (i, j) in result.unchanged
    ):
        result.merges.append((parts, j))


def _share(part: set[_Trigram], whole: set[_Trigram]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def _wholes(
    candidates: list[int],
    piece_grams: _FullGrams,
    whole_grams: _FullGrams,
    partner_of: dict[int, int],
    verbatim: Callable[[int, int], bool],
) -> list[tuple[int, list[int]]]:
    """The factors of one year that came apart into pieces in the other: a split read forwards
    (old wholes, new pieces), a merge read backwards (new wholes, old pieces).

    Each candidate piece (a new or a removed factor) goes to the whole most of its trigrams
    come from; a whole's matched partner counts as a piece too when it is mostly derived from it,
    unless the two are verbatim the same. Two or more pieces covering the whole make it one.
    """
    pieces_of: dict[int, list[int]] = {}
    for piece in candidates:
        whole = _source(piece_grams[piece], whole_grams)
        if whole >= 0:
            pieces_of.setdefault(whole, []).append(piece)
    found: list[tuple[int, list[int]]] = []
    for whole in sorted(pieces_of):
        pieces = list(pieces_of[whole])
        partner = partner_of.get(whole)
        if partner is not None and verbatim(whole, partner):
            continue  # the whole survives verbatim; a piece merely borrows from it
        if partner is not None and _share(piece_grams[partner], whole_grams[whole]) >= MIN_DERIVED:
            pieces.append(partner)
        union = set().union(*(piece_grams[p] for p in pieces))
        if len(pieces) >= 2 and _share(whole_grams[whole], union) >= MIN_COVERAGE:
            found.append((whole, sorted(pieces)))
    return found


def _source(grams: set[_Trigram], pool: _FullGrams) -> int:
    """The factor of ``pool`` holding the largest share (at least MIN_DERIVED) of ``grams``."""
    best, best_share = -1, MIN_DERIVED
    for index in range(len(pool)):
        value = _share(grams, pool[index])
        if value >= best_share and (best < 0 or value > best_share):
            best, best_share = index, value
    return best


class _FullGrams:
    """One year's :func:`_full_trigrams` by factor, each computed when first asked for.

    A year with only removed factors (or only new ones) is compared against the other
    year's factors one by one, but its own factors are needed only for those removed.
    """

    __slots__ = ("_body", "_factors", "_found", "_offset")

    def __init__(self, factors: Sequence[FactorText], body: list[set[_Trigram]] | None, offset: int) -> None:
        self._factors = factors
        self._body = body
        self._offset = offset
        self._found: dict[int, set[_Trigram]] = {}

    def __len__(self) -> int:
        return len(self._factors)

    def __getitem__(self, index: int) -> set[_Trigram]:
        found = self._found.get(index)
        if found is None:
            factor = self._factors[index]
            body = self._body[self._offset + index] if self._body is not None else trigrams(factor.body)
            found = self._found[index] = _full_trigrams(factor, body)
        return found
