"""Text primitives shared by the risk-drift analysis: normalisation, words, sentences.

Every measure in this package is defined over the same word tokens, so they live in one
place: lower-cased alphabetic words (an internal apostrophe is kept, so ``company's`` is one
word), with typographic quotes and dashes folded to ASCII first. Numbers are not words,
which follows Loughran and McDonald's treatment of 10-K text.
"""

from __future__ import annotations

import re
from operator import add

__all__ = [
    "fold",
    "normalise_space",
    "normalised_text",
    "round6",
    "sentences",
    "words",
]

# Typographic characters folded to ASCII. A chain of str.replace is ~10x faster than
# str.translate with a dict table on multi-megabyte text.
_FOLDS: tuple[tuple[str, str], ...] = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2013", "-"),
    ("\u2014", "-"),
    ("\u200b", ""),
)
# Byte table for words(): a-z and the apostrophe kept, anything else a space.
_LETTERS_ONLY = bytes(c if c in b"abcdefghijklmnopqrstuvwxyz'" else 32 for c in range(256))
# A sentence ends at . ! or ? followed by space and an upper-case letter, a quote or a
# bullet; abbreviations such as "U.S. laws" stay intact because a lower-case word follows.
# The stop is captured rather than looked behind for, so the regex engine can skip ahead to
# the next . ! or ? instead of testing every position; a closing quote after it is dropped.
_SENTENCE_END = re.compile(r"([.!?])[\"')\]]?\s+(?=[A-Z\"'(\u2022])")


def fold(text: str) -> str:
    """Fold typographic quotes and dashes to ASCII (one character for one; zero-width spaces go)."""
    if text.isascii():  # O(1) in CPython; most blocks and factors hold no typographic character
        return text
    for old, new in _FOLDS:
        if old in text:
            text = text.replace(old, new)
    return text


def normalise_space(text: str) -> str:
    """Fold typographic characters to ASCII and collapse runs of white space."""
    # str.split() cuts at the same characters as \s (str.isspace) and runs in C; a regex
    # substitution pays per match, i.e. per word.
    return " ".join(fold(text).split())


def words(text: str) -> list[str]:
    """The word tokens of ``text``: lower-case alphabetic words, in order.

    The tokens are those of the regex ``[a-z]+(?:'[a-z]+)*`` over the lower-cased text, found
    at C speed (the regex costs a match per word): every character but a-z and the apostrophe
    becomes a space, an apostrophe not between two letters too, and the rest is split.
    """
    lowered = text.lower()
    if not lowered.isascii():
        lowered = lowered.replace("\u2019", "'").replace("\u2018", "'")
    letters = lowered.encode("ascii", "replace").translate(_LETTERS_ONLY).decode("ascii")
    if "'" in letters:
        letters = f" {letters} ".replace("''", "  ").replace(" '", "  ").replace("' ", "  ")
    return letters.split()


def normalised_text(text: str) -> str:
    """A canonical form for equality tests: the words joined by single spaces.

    Two passages are "the same text" when they differ only in case, punctuation,
    numbers, white space or typographic quotes.
    """
    return " ".join(words(text))


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (white space normalised), in order."""
    clean = normalise_space(text)
    if not clean:
        return []
    # split() gives text, stop, text, stop, ..., text: each stop ends the text before it.
    parts = _SENTENCE_END.split(clean)
    stops = parts[1::2]
    stops.append("")
    return [sentence for sentence in map(str.strip, map(add, parts[::2], stops)) if sentence]


def round6(value: float) -> float:
    """Round to 6 decimals so serialised figures are stable across platforms."""
    rounded = round(value, 6)
    # -0.0 and 0.0 serialise differently; report one zero.
    return 0.0 if rounded == 0 else rounded
