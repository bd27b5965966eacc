"""The four Lazy Prices similarity measures on small, hand-computed examples."""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Indel, Levenshtein

from acquire.analysis import similarity
from acquire.analysis.similarity import (
    Vocabulary,
    _indel,
    _indel_within,
    cosine_similarity,
    counted_similarity,
    edit_similarity,
    jaccard_similarity,
    simple_similarity,
    simple_similarity_ints,
)
from acquire.analysis.text import fold, normalise_space, normalised_text, round6, sentences, words

A = ["the", "cat", "sat", "on", "the", "mat"]
B = ["the", "cat", "sat", "on", "a", "red", "mat"]


def test_cosine() -> None:
    # a: the 2, cat sat on mat 1; b: the cat sat on a red mat 1 each.
    dot = 2 * 1 + 1 + 1 + 1 + 1
    expected = dot / (math.sqrt(4 + 4) * math.sqrt(7))
    assert math.isclose(cosine_similarity(A, B), expected)
    assert cosine_similarity(A, list(reversed(A))) == 1.0
    assert cosine_similarity(A, ["dog"]) == 0.0


def test_jaccard() -> None:
    # {the, cat, sat, on, mat} vs {the, cat, sat, on, a, red, mat}
    assert jaccard_similarity(A, B) == 5 / 7


def test_edit() -> None:
    # the cat sat on [the -> a] [+red] mat: 2 edits over max length 7.
    assert math.isclose(edit_similarity(A, B), 1 - 2 / 7)
    assert edit_similarity(A, []) == 0.0


def test_simple_is_diff_based_and_matches_difflib_here() -> None:
    # LCS = the cat sat on mat (5); 2 * 5 / (6 + 7)
    assert math.isclose(simple_similarity(A, B), 10 / 13)
    assert math.isclose(simple_similarity(A, B), difflib.SequenceMatcher(None, A, B).ratio())


def test_identical_and_empty() -> None:
    same = similarity(A, list(A))
    assert (same.cosine, same.jaccard, same.edit, same.simple) == (1.0, 1.0, 1.0, 1.0)
    empty = similarity([], [])
    assert (empty.cosine, empty.jaccard, empty.edit, empty.simple) == (1.0, 1.0, 1.0, 1.0)
    one_sided = similarity(A, [])
    assert (one_sided.cosine, one_sided.jaccard, one_sided.edit, one_sided.simple) == (0.0, 0.0, 0.0, 0.0)


def test_order_sensitivity_differs_by_measure() -> None:
    reordered = similarity(A, list(reversed(A)))
    assert reordered.cosine == 1.0 and reordered.jaccard == 1.0
    assert reordered.edit < 1.0 and reordered.simple < 1.0


def test_words_and_sentences() -> None:
    assert words("The Company\u2019s U.S. sales fell 5%\u2014sharply.") == [
        "the", "company's", "u", "s", "sales", "fell", "sharply",
    ]  # fmt: skip
    assert normalised_text("Risks  related\u00a0to OUR  stock.") == "risks related to our stock"
    assert sentences("We sell in the U.S. and abroad. Demand may fall! Will it? Yes.") == [
        "We sell in the U.S. and abroad.",
        "Demand may fall!",
        "Will it?",
        "Yes.",
    ]


_WORDS = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), max_size=300)


@settings(max_examples=300, deadline=None)
@given(_WORDS, _WORDS, st.data())
def test_banded_scores_equal_the_full_matrix_ones(a: list[str], b: list[str], data: st.DataObject) -> None:
    # Mostly-shared sequences (the case the bands are for) and unrelated ones alike.
    if data.draw(st.booleans()):
        b = a[: len(a) // 2] + b[: len(b) // 4] + a[len(a) // 2 :]
    scores = similarity(a, b)
    longest = max(len(a), len(b))
    edit = 1.0 - Levenshtein.distance(a, b) / longest if longest else 1.0
    simple = float(Indel.normalized_similarity(a, b)) if a or b else 1.0
    assert (scores.edit, scores.simple) == (round6(edit), round6(simple))
    assert simple_similarity(a, b) == simple


@settings(max_examples=300, deadline=None)
@given(_WORDS, _WORDS, _WORDS)
def test_counted_scores_equal_the_token_ones(a: list[str], b: list[str], seen: list[str]) -> None:
    # The vocabulary may know other words first, or miss some of a and b: integers differ,
    # the scores do not.
    vocabulary = Vocabulary(seen)
    ia, ib = vocabulary.ints(a), vocabulary.ints(b)
    assert counted_similarity(Counter(a), Counter(b), ia, ib) == similarity(a, b)
    assert counted_similarity(Counter(a), Counter(a), ia, list(ia)) == similarity(a, list(a))
    assert simple_similarity_ints(ia, ib) == simple_similarity(a, b)
    assert vocabulary.ints(a + b) == ia + ib


@settings(max_examples=300, deadline=None)
@given(_WORDS, _WORDS, st.integers(min_value=0, max_value=700))
def test_indel_within_a_bound_is_exact_or_none(a: list[str], b: list[str], bound: int) -> None:
    ia, ib = Vocabulary(a, b).ints(a), Vocabulary(a, b).ints(b)
    distance = Indel.distance(ia, ib)
    assert _indel_within(ia, ib, bound) == (distance if distance <= bound else None)
    assert _indel_within(ia, ib, distance) == distance
    assert _indel(ia, ib, max(bound, 1)) == distance


# Sentence stops, quotes, capitals, bullets and every kind of white space, densely mixed.
_PROSE = st.text(alphabet=st.sampled_from(list("aZ.!?\"')]( \t\n\u00a0\u2003\u2022\u2019\u201c\u200bU.S")))


@settings(max_examples=500, deadline=None)
@given(_PROSE)
def test_space_and_sentence_splitting_match_their_regex_definitions(text: str) -> None:
    space = re.compile(r"\s+")
    clean = space.sub(" ", fold(text)).strip()
    assert normalise_space(text) == clean
    end = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z\"'(\u2022])")
    assert sentences(text) == [part.strip() for part in end.split(clean) if part.strip()]


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abZ'' -.9\u00e9\u2019\u2018\u212a\u0130\u00df\n"))) | st.text())
def test_words_match_their_regex_definition(text: str) -> None:
    # The Kelvin sign and dotted capital I lower-case to ASCII letters (plus a combining dot).
    regex = re.compile(r"[a-z]+(?:'[a-z]+)*")
    assert words(text) == regex.findall(text.lower().replace("\u2019", "'").replace("\u2018", "'"))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("ab'' -.\u2019\u0130\n"))), max_size=6))
def test_words_of_texts_joined_by_newlines_are_their_words_in_turn(parts: list[str]) -> None:
    assert words("\n".join(parts)) == [token for part in parts for token in words(part)]
