"""Tone word lists and Loughran-McDonald style tone scoring.

The Loughran-McDonald (LM) master dictionary is free for academic use only, so the default
lexicon is an original list written for this project (``data/tone_lexicon.txt``), with the
same seven classes. Users licensed for LM pass its master dictionary CSV to
:func:`load_lm_master_dictionary` and hand the result to the analysis.

Scoring follows Loughran and McDonald (2011): each class is measured as a proportion of
**all** words of the text (proportional weighting, no tf-idf). Net tone is
(positive - negative) / (positive + negative), the polarity measure of Henry (2008) also used
in LM-based studies; it is 0 when the text has neither positive nor negative words.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

from acquire.analysis.models import ToneScores
from acquire.analysis.text import round6

__all__ = [
    "TONE_CLASSES",
    "Lexicon",
    "default_lexicon",
    "load_lm_master_dictionary",
    "parse_lexicon",
    "score_tone",
    "tone_counts",
    "tone_scores",
]

TONE_CLASSES: tuple[str, ...] = (
    "negative",
    "positive",
    "uncertainty",
    "litigious",
    "strong_modal",
    "weak_modal",
    "constraining",
)

# LM CSV column for each class (LM spells the modal columns with capitals and underscores).
_LM_COLUMNS: dict[str, str] = {
    "negative": "Negative",
    "positive": "Positive",
    "uncertainty": "Uncertainty",
    "litigious": "Litigious",
    "strong_modal": "Strong_Modal",
    "weak_modal": "Weak_Modal",
    "constraining": "Constraining",
}


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Seven word classes; each is a set of lower-case words."""

    negative: frozenset[str]
    positive: frozenset[str]
    uncertainty: frozenset[str]
    litigious: frozenset[str]
    strong_modal: frozenset[str]
    weak_modal: frozenset[str]
    constraining: frozenset[str]

    def membership(self) -> dict[str, tuple[int, ...]]:
        """Word -> indexes (in :data:`TONE_CLASSES` order) of the classes it belongs to."""
        return _membership(self)

    def classes(self) -> tuple[frozenset[str], ...]:
        """The word sets in :data:`TONE_CLASSES` order."""
        return (
            self.negative,
            self.positive,
            self.uncertainty,
            self.litigious,
            self.strong_modal,
            self.weak_modal,
            self.constraining,
        )


@lru_cache(maxsize=8)
def _membership(lexicon: Lexicon) -> dict[str, tuple[int, ...]]:
    found: dict[str, list[int]] = {}
    for index, members in enumerate(lexicon.classes()):
        for word in sorted(members):
            found.setdefault(word, []).append(index)
    return {word: tuple(indexes) for word, indexes in found.items()}


def parse_lexicon(text: str) -> Lexicon:
    """Parse the ``[class]`` / ``base|suffix|...`` format of ``data/tone_lexicon.txt``.

    The base and every base+suffix are members. A base may be a stem that is not itself a
    word (``investigat|e|ion``); it then never matches a token, which is harmless.
    """
    members: dict[str, set[str]] = {name: set() for name in TONE_CLASSES}
    current: set[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if name not in members:
                raise ValueError(f"line {number}: unknown tone class {name!r}")
            current = members[name]
            continue
        if current is None:
            raise ValueError(f"line {number}: word before the first [class] line")
        base, *suffixes = line.lower().split("|")
        current.add(base)
        current.update(base + suffix for suffix in suffixes if suffix)
    return Lexicon(**{name: frozenset(words) for name, words in members.items()})


@cache
def default_lexicon() -> Lexicon:
    """The bundled original lexicon (cached; it is immutable)."""
    data = resources.files("acquire.analysis").joinpath("data/tone_lexicon.txt")
    return parse_lexicon(data.read_text(encoding="utf-8"))


def load_lm_master_dictionary(source: str | Path | Iterable[str]) -> Lexicon:
    """Build a :class:`Lexicon` from a Loughran-McDonald master dictionary CSV.

    ``source`` is a path, or the CSV's lines. Required columns: ``Word`` and the seven class
    columns (``Negative``, ``Positive``, ``Uncertainty``, ``Litigious``, ``Strong_Modal``,
    ``Weak_Modal``, ``Constraining``). A word belongs to a class when its cell is a non-zero
    number (LM stores the year the word was added, or 0); an empty cell means not a member.

    Raises:
        ValueError: when a required column is missing or a cell is not a number.
    """
    if isinstance(source, str | Path):
        with open(source, encoding="utf-8-sig", newline="") as handle:
            return _read_lm(csv.DictReader(handle))
    return _read_lm(csv.DictReader(io.StringIO("".join(_with_newlines(source)))))


def _with_newlines(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n"


def _read_lm(reader: csv.DictReader[str]) -> Lexicon:
    fields = {name.strip().lstrip("\ufeff") for name in reader.fieldnames or ()}
    missing = sorted({"Word", *_LM_COLUMNS.values()} - fields)
    if missing:
        raise ValueError(f"LM master dictionary CSV lacks column(s): {', '.join(missing)}")
    members: dict[str, set[str]] = {name: set() for name in TONE_CLASSES}
    for row in reader:
        clean = {(key or "").strip().lstrip("\ufeff"): (value or "").strip() for key, value in row.items()}
        word = clean["Word"].lower()
        if not word:
            continue
        for name, column in _LM_COLUMNS.items():
            cell = clean[column]
            try:
                flagged = bool(cell) and float(cell) != 0
            except ValueError:
                raise ValueError(f"LM CSV: {column} for {word!r} is not a number: {cell!r}") from None
            if flagged:
                members[name].add(word)
    return Lexicon(**{name: frozenset(words) for name, words in members.items()})


def score_tone(tokens: list[str], lexicon: Lexicon | None = None) -> ToneScores:
    """Tone of a tokenised text (tokens from :func:`acquire.analysis.text.words`)."""
    return tone_scores(tone_counts([Counter(tokens)], lexicon), len(tokens))


def tone_counts(counted: Iterable[Counter[str]], lexicon: Lexicon | None = None) -> list[int]:
    """How many tokens of each class (in :data:`TONE_CLASSES` order) the counted texts hold.

    The counts of several texts add up, so a text's tone is computed once and a group of
    texts (a category's factors) needs no recount.
    """
    membership = (lexicon or default_lexicon()).membership()
    counts = [0] * len(TONE_CLASSES)
    # Look each distinct word up once (a 10-K section repeats its vocabulary heavily), and
    # only the words in the lexicon: the set intersection runs in C.
    for text in counted:
        for token in text.keys() & membership.keys():
            n = text[token]
            for index in membership[token]:
                counts[index] += n
    return counts


def tone_scores(counts: Sequence[int], total: int) -> ToneScores:
    """:class:`ToneScores` from :func:`tone_counts` of a text of ``total`` tokens."""
    share = [round6(count / total) if total else 0.0 for count in counts]
    negative, positive = counts[0], counts[1]
    polar = positive + negative
    return ToneScores(
        words=total,
        negative=share[0],
        positive=share[1],
        uncertainty=share[2],
        litigious=share[3],
        strong_modal=share[4],
        weak_modal=share[5],
        constraining=share[6],
        net_tone=round6((positive - negative) / polar) if polar else 0.0,
    )
