"""Tone lexicon and Loughran-McDonald style scoring, and the LM master dictionary loader."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from acquire.analysis import default_lexicon, load_lm_master_dictionary, score_tone
from acquire.analysis.lexicon import TONE_CLASSES, parse_lexicon, tone_counts, tone_scores
from acquire.analysis.text import words

SENTENCE = (
    "We believe our strong brand will improve results, but we may lose customers to litigation "
    "and must comply with restrictive covenants."
)


def test_tone_of_a_known_sentence() -> None:
    tokens = words(SENTENCE)
    assert len(tokens) == 21
    tone = score_tone(tokens)
    # negative: lose; positive: strong, improve; uncertainty: believe, may; litigious:
    # litigation, covenants; strong modal: will, must; weak modal: may; constraining:
    # restrictive, covenants. Each is a share of all 21 words.
    assert tone.words == 21
    assert tone.negative == round(1 / 21, 6)
    assert tone.positive == round(2 / 21, 6)
    assert tone.uncertainty == round(2 / 21, 6)
    assert tone.litigious == round(2 / 21, 6)
    assert tone.strong_modal == round(2 / 21, 6)
    assert tone.weak_modal == round(1 / 21, 6)
    assert tone.constraining == round(2 / 21, 6)
    # (positive - negative) / (positive + negative) = (2 - 1) / 3
    assert tone.net_tone == round(1 / 3, 6)


def test_empty_and_neutral_text() -> None:
    assert score_tone([]).net_tone == 0.0
    assert score_tone([]).negative == 0.0
    neutral = score_tone(words("The company sells widgets in Ohio."))
    assert neutral.net_tone == 0.0
    assert neutral.words == 6


def test_default_lexicon_is_substantial_and_original_format() -> None:
    lexicon = default_lexicon()
    sizes = dict(zip(TONE_CLASSES, map(len, lexicon.classes()), strict=True))
    for name in ("negative", "positive", "uncertainty", "litigious"):
        assert sizes[name] >= 200, name
    assert sizes["constraining"] >= 100
    assert sizes["strong_modal"] >= 15 and sizes["weak_modal"] >= 20
    assert {"adverse", "adversely", "impairment", "breaches"} <= lexicon.negative
    assert "lawsuits" in lexicon.litigious and "may" in lexicon.weak_modal


def test_parse_lexicon_suffix_notation_and_errors() -> None:
    lexicon = parse_lexicon("# c\n[negative]\nfail|ed|ure\n[positive]\ngain|s\n")
    assert lexicon.negative == {"fail", "failed", "failure"}
    assert lexicon.positive == {"gain", "gains"}
    assert lexicon.uncertainty == frozenset()
    with pytest.raises(ValueError, match="unknown tone class"):
        parse_lexicon("[angry]\nword\n")
    with pytest.raises(ValueError, match="before the first"):
        parse_lexicon("word\n")


LM_CSV = (
    "Word,Seq_num,Word Count,Negative,Positive,Uncertainty,Litigious,Strong_Modal,Weak_Modal,Constraining\n"
    "ABANDON,1,100,2009,0,0,0,0,0,0\n"
    "BOOST,2,50,0,2009,0,0,0,0,0\n"
    "MAYBE,3,20,0,0,2009,0,0,2009,0\n"
    "TORT,4,10,0,0,0,2011,0,0,0\n"
    "MUST,5,40,0,0,0,0,2009,0,0\n"
    "OBLIGATE,6,5,0,0,0,0,0,0,2009\n"
    "TABLE,7,500,0,0,0,0,0,0,\n"
)


def test_lm_master_dictionary_loader(tmp_path: Path) -> None:
    path = tmp_path / "LM.csv"
    path.write_text(LM_CSV, encoding="utf-8")
    for lexicon in (load_lm_master_dictionary(path), load_lm_master_dictionary(LM_CSV.splitlines())):
        assert lexicon.negative == {"abandon"}
        assert lexicon.positive == {"boost"}
        assert lexicon.uncertainty == {"maybe"}
        assert lexicon.weak_modal == {"maybe"}
        assert lexicon.litigious == {"tort"}
        assert lexicon.strong_modal == {"must"}
        assert lexicon.constraining == {"obligate"}
        tone = score_tone(words("We must abandon the table, maybe."), lexicon)
        assert tone.negative == round(1 / 6, 6)
        assert tone.net_tone == -1.0


def test_lm_loader_rejects_bad_files() -> None:
    with pytest.raises(ValueError, match="Constraining"):
        load_lm_master_dictionary(
            ["Word,Negative,Positive,Uncertainty,Litigious,Strong_Modal,Weak_Modal", "A,1,0,0,0,0,0"]
        )
    header = LM_CSV.splitlines()[0]
    with pytest.raises(ValueError, match="not a number"):
        load_lm_master_dictionary([header, "ODD,1,1,yes,0,0,0,0,0,0"])


def test_tone_counts_of_texts_add_up() -> None:
    first = words("We may lose customers; litigation could harm us, but gains are possible.")
    second = words("Losses may rise. We must comply with the law and may be unable to benefit.")
    both = first + second
    counts = tone_counts([Counter(first), Counter(second)])
    assert counts == [
        a + b for a, b in zip(tone_counts([Counter(first)]), tone_counts([Counter(second)]), strict=True)
    ]
    assert sum(counts) > 0
    assert tone_scores(counts, len(both)) == score_tone(both)
