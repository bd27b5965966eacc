"""Split an extracted Item 1A into individual, scored risk factors.

A risk factor starts with an emphasised sentence heading: bold and/or italic, through
``<b>``/``<strong>``/``<i>``/``<em>`` or inline CSS (see :mod:`acquire.analysis.item1a`).
Filers differ (NVIDIA: bold; Tesla and Meta: bold italic under bold captions), so the heading
style is detected per document:

1. Candidates are blocks that open with emphasised text: wholly emphasised blocks, and
   blocks whose emphasised lead is a sentence of at least four words followed by plain text
   (run-in headings of older filings).
2. Captions ("Risks Related to Our Industry", "General Risks") are recognised by wording, or
   as short, unpunctuated, Title Case emphasised lines; they become the ``group`` of the
   factors below.
3. The factor heading style is the most frequent (bold, italic, underline) combination among
   the remaining candidates of six or more words; only candidates in that style start
   factors, so an italic introduction or an emphasised phrase inside a body does not.
4. The "Summary of Risk Factors" is skipped: from its heading to the first line that repeats
   one of its captions (or reads "Risk Factors"), or else to the first factor-style heading.

Documents without emphasis information (plain-text filings) fall back to layout: a heading is
a single sentence of 6 to 60 words followed by a paragraph of at least 25 words and twice its
length.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from acquire.analysis.item1a import Block, Item1ASection
from acquire.analysis.lexicon import Lexicon, score_tone
from acquire.analysis.models import RiskFactor
from acquire.analysis.taxonomy import classify
from acquire.analysis.text import normalise_space, words

__all__ = ["split_risk_factors"]

_CAPTION = re.compile(
    r"^(?:(?:general|other|additional|certain)\s+)?(?:risks?|factors?|risk\s+factors)\s+"
    r"(?:related|relating|associated|pertaining|specific|applicable|concerning|regarding)\b"
    r"|^(?:general|other|additional)\s+(?:business\s+)?risks?(?:\s+factors)?\s*$"
    r"|^risks?\s+(?:related|relating)\b",
    re.IGNORECASE,
)
_SUMMARY = re.compile(
    r"^(?:summary\s+(?:of\s+)?(?:the\s+)?(?:material\s+)?risk\s+factors?|risk\s+factors?\s+summary"
    r"|summary\s+risk\s+factors?)\W*$",
    re.IGNORECASE,
)
_RISK_FACTORS_LINE = re.compile(r"^\W*risk\s+factors\W*$", re.IGNORECASE)
_ITEM_HEADING = re.compile(r"^\W*item\s*1\s*a\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.?!:]['\")\]]?$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_BULLET = re.compile(r"^[\u2022\u25cf\u25aa\u2013\-*\u00b7o]\s")

_MIN_HEADING_WORDS = 6
_MAX_HEADING_WORDS = 120
_MAX_CAPTION_WORDS = 14
# Layout fallback: a heading's paragraph is at least this long (and twice the heading).
_MIN_BODY_WORDS = 25


@dataclass(slots=True)
class _Candidate:
    index: int
    heading: str
    rest: str
    flags: tuple[bool, bool, bool]
    caption: bool


def split_risk_factors(section: Item1ASection, lexicon: Lexicon | None = None) -> list[RiskFactor]:
    """Split ``section`` into risk factors in document order, each classified and toned."""
    blocks = list(section.blocks)
    if blocks and _ITEM_HEADING.match(blocks[0].text):
        blocks = blocks[1:]
    candidates = _candidates(blocks)
    if any(not c.caption for c in candidates):
        starts = _styled_starts(blocks, candidates)
    else:
        starts = _layout_starts(blocks)
    return _assemble(blocks, starts, lexicon)


def _candidates(blocks: Sequence[Block]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for index, block in enumerate(blocks):
        lead = block.lead
        if not lead or block.lead_style is None or not any(ch.isalpha() for ch in lead):
            continue
        whole = len(lead) >= 0.9 * len(block.text)
        if whole:
            heading, rest = block.text, ""
        elif len(lead.split()) >= 4 and _SENTENCE_END.search(lead):
            # A run-in heading: an emphasised sentence, then the body in plain text. The lead
            # is a prefix of the text (both are normalised from the same runs).
            heading, rest = lead, block.text[len(lead) :].strip()
        else:
            continue
        count = len(heading.split())
        if count > _MAX_HEADING_WORDS:
            continue
        caption = whole and (
            bool(_CAPTION.match(heading))
            or (count <= _MAX_CAPTION_WORDS and not _SENTENCE_END.search(heading) and _title_case(heading))
        )
        found.append(_Candidate(index, heading, rest, block.lead_style, caption))
    return found


def _title_case(text: str) -> bool:
    """Captions are Title Case ("Industry Risks"); unpunctuated sentence headings are not."""
    long_words = [w for w in _WORD.findall(text) if len(w) >= 4]
    return bool(long_words) and sum(w[0].isupper() for w in long_words) >= 0.6 * len(long_words)


def _styled_starts(blocks: Sequence[Block], candidates: list[_Candidate]) -> list[_Candidate]:
    """Factor-start and caption candidates, in order, with the summary skipped."""
    skip = _summary_span(blocks, candidates)
    # A bare "Risk Factors" line (NVIDIA repeats it after the summary) is no caption.
    usable = [
        c
        for c in candidates
        if not (skip[0] <= c.index < skip[1]) and not _RISK_FACTORS_LINE.match(c.heading)
    ]
    styles = Counter(
        c.flags for c in usable if not c.caption and len(c.heading.split()) >= _MIN_HEADING_WORDS
    )
    if not styles:
        styles = Counter(c.flags for c in usable if not c.caption)
    # Most frequent style; ties go to the style seen first (Counter keeps insertion order).
    factor_style = max(styles.items(), key=lambda item: item[1])[0]
    return [c for c in usable if c.caption or c.flags == factor_style]


def _summary_span(blocks: Sequence[Block], candidates: list[_Candidate]) -> tuple[int, int]:
    start = next((i for i, b in enumerate(blocks) if len(b.text) < 80 and _SUMMARY.match(b.text)), -1)
    if start < 0:
        return (0, 0)
    captions: set[str] = set()
    for candidate in candidates:
        if candidate.index <= start:
            continue
        key = normalise_space(candidate.heading).lower()
        if candidate.caption and key in captions:
            return (start, candidate.index)
        if _RISK_FACTORS_LINE.match(candidate.heading):
            return (start, candidate.index)
        if candidate.caption:
            captions.add(key)
    first_long = next(
        (
            c.index
            for c in candidates
            if c.index > start and not c.caption and len(c.heading.split()) >= _MIN_HEADING_WORDS
        ),
        start + 1,
    )
    return (start, first_long)


def _layout_starts(blocks: Sequence[Block]) -> list[_Candidate]:
    """Headings from layout alone: a short single sentence followed by a much longer paragraph."""
    starts: list[_Candidate] = []
    for index, block in enumerate(blocks):
        text = block.text
        count = len(text.split())
        if _BULLET.match(text) or _RISK_FACTORS_LINE.match(text):
            continue
        if count <= _MAX_CAPTION_WORDS and _CAPTION.match(text) and not _SENTENCE_END.search(text):
            starts.append(_Candidate(index, text, "", (False, False, False), True))
            continue
        following = blocks[index + 1].text if index + 1 < len(blocks) else ""
        single = len(re.findall(r"[.?!](?:\s|$)", text)) <= 1
        if (
            _MIN_HEADING_WORDS <= count <= 60
            and single
            and text.endswith(".")
            and len(following.split()) >= max(_MIN_BODY_WORDS, 2 * count)
            and not _BULLET.match(following)
        ):
            starts.append(_Candidate(index, text, "", (False, False, False), False))
    return starts


def _assemble(blocks: Sequence[Block], starts: list[_Candidate], lexicon: Lexicon | None) -> list[RiskFactor]:
    factors: list[RiskFactor] = []
    group: str | None = None
    bounds = [c.index for c in starts] + [len(blocks)]
    for number, candidate in enumerate(starts):
        if candidate.caption:
            group = candidate.heading
            continue
        body_parts = [candidate.rest] if candidate.rest else []
        body_parts.extend(b.text for b in blocks[candidate.index + 1 : bounds[number + 1]])
        heading = candidate.heading
        body = "\n".join(body_parts)
        heading_tokens, body_tokens = words(heading), words(body)
        factors.append(
            RiskFactor(
                position=len(factors),
                heading=heading,
                body=body,
                group=group,
                words=len(heading_tokens) + len(body_tokens),
                category=classify(heading_tokens, body_tokens),
                tone=score_tone(heading_tokens + body_tokens, lexicon),
            )
        )
    return factors
