"""Risk-factor headings from typography: which style marks the headings, and where they are.

Filers mark risk-factor headings with type that differs from the body's: bold, bold italic,
italic, underline, a larger or coloured font; some set the whole section in italics and the
headings in bold italic; some run the heading into its first paragraph ("*Heading.* Body",
"*Heading* - Body"). Category captions ("Risks Related to Our Industry") often use another
style, sometimes the same one, and are sometimes Title Case phrases exactly like headings.

1. **Body type.** The style covering most characters of the section is the body; any
   other style is emphasis.
2. **Candidates.** A block that is emphasised throughout, or whose emphasised lead ends in
   ``.?!:`` or a dash (or is followed by one) and continues in body type (a run-in heading).
3. **Heading style, by partition.** For each candidate style, count the candidates that are
   followed by body text (at least :data:`MIN_BODY_WORDS` words before the next candidate):
   each is a heading + body unit. The style with the most units is the heading style. A
   caption style scores low (a caption is followed by a heading, not by body), and so does
   the body's own type however frequent it is.
4. **Captions, by structure.** A short candidate immediately followed by a heading (or by
   another caption) is a caption; in the heading style too, unless the next block continues
   it (a heading split by a page break: the second part starts in lower case). A
   heading-style block followed by body is a factor whatever its wording.
5. **Summary.** A "Summary of Risk Factors" is skipped up to the first repeated caption or
   "Risk Factors" line, or else to the first heading-style block followed by body.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from acquire.analysis.blocks import Block, Style
from acquire.analysis.items import base_style

__all__ = ["MIN_BODY_WORDS", "Start", "StyledHeadings", "describe", "styled_headings"]

MIN_BODY_WORDS = 15
# A caption is a short line; longer emphasised blocks without body are split headings.
_MAX_CAPTION_WORDS = 20
# Sub-headings: short unpunctuated phrases among at least this many sentence headings.
_MIN_SHAPED = 5
_MAX_SUBHEADING_WORDS = 6
# A stand-alone style with this many units outranks a more frequent run-in style.
_MIN_LEVEL_UNITS = 5
_RUN_IN_CLOSE = re.compile(r"(?:[.?!:]['\")\]]?|\s[-\u2013\u2014]+|[-\u2013\u2014]{2})$")
_DASH_OR_COLON = re.compile(r"^\s*(?:[-\u2013\u2014]+|:)\s*")
_TRAILING_DASH = re.compile(r"\s*[-\u2013\u2014]+$")
_SUMMARY = re.compile(
    r"^(?:summary\s+(?:of\s+)?(?:the\s+|our\s+)?(?:[a-z]+\s+){0,2}risks?(?:\s+factors?)?"
    r"|risk\s+factors?\s+summary)\W*$",
    re.IGNORECASE,
)
_LETTERS = re.compile(r"[A-Za-z]")
_SENTENCE_END = re.compile(r"[.?!]['\")\]]?$")
_CLOSED = re.compile(r"[.?!:]['\")\]]?$")
_RISK_FACTORS_LINE = re.compile(r"^\W*risk\s+factors\W*$", re.IGNORECASE)
_MARKER = re.compile(
    r"^(?:[\u2022\u25cf\u25aa\u25a0\u00b7\u2023\u25e6\u27a2\u2013*-]|\(?\d{1,2}[.)]|\([a-z]\))\s*"
)
_BULLET_BLOCK = re.compile(r"^[\u2022\u25cf\u25aa\u25a0\u00b7\u2023\u25e6\u27a2\u2013*o-]\s")
_CONTINUES = re.compile(r"(?:[,;]|\b(?:and|or|of|the|to|in|for|with|by|our|a|an))$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Start:
    """A factor heading or a caption at ``index``; ``rest`` is a run-in heading's body text.

    ``end`` is the index after the last block of the heading (a heading split over blocks
    by a page break spans several).
    """

    index: int
    end: int
    heading: str
    rest: str
    caption: bool


@dataclass(frozen=True, slots=True)
class StyledHeadings:
    """The outcome: the starts in order and the chosen heading style (None: no candidates)."""

    starts: list[Start]
    style: Style | None
    run_in: bool
    units: int
    marked: bool = False


_Key = tuple[Style, bool, bool]
"""A heading style: the candidate's style, whether it runs in, whether a bullet or number leads it."""


@dataclass(slots=True)
class _Candidate:
    index: int
    heading: str
    rest: str
    style: Style
    run_in: bool
    marked: bool

    @property
    def key(self) -> _Key:
        return (self.style, self.run_in, self.marked)


def styled_headings(blocks: Sequence[Block]) -> StyledHeadings:
    """Factor headings and captions of ``blocks`` (see the module docstring)."""
    base = base_style(blocks)
    found = [c for c in (_candidate(i, b, base) for i, b in enumerate(blocks)) if c is not None]
    if not found:
        return StyledHeadings([], None, False, 0)
    at = {c.index: c for c in found}
    body = _body_words(blocks, found)
    skip = _summary_span(blocks, found, body)
    usable = [
        c for c in found if not skip[0] <= c.index < skip[1] and not _RISK_FACTORS_LINE.match(c.heading)
    ]
    units: dict[_Key, int] = {}
    for c in usable:
        units[c.key] = units.get(c.key, 0) + (body[(c.index, c.key)] >= MIN_BODY_WORDS)
    if not units:
        return StyledHeadings([], None, False, 0)
    key = _choose(units, usable, at, len(blocks))
    return StyledHeadings(_starts(blocks, usable, at, key), key[0], key[1], units[key], key[2])


def _choose(units: dict[_Key, int], usable: list[_Candidate], at: dict[int, _Candidate], size: int) -> _Key:
    """The heading style: most units; a run-in style only if no stand-alone style heads bodies.

    Run-in emphasis inside factors (sub-headings) can outnumber the factor headings; a
    stand-alone style whose blocks are mostly followed directly by body text is then the
    higher level. A stand-alone caption style is followed by headings, not body.
    """
    # Ties go to the style seen first (dicts keep insertion order).
    best = max(units.items(), key=lambda item: item[1])[0]
    if not best[1]:
        return best
    for key, count in sorted(units.items(), key=lambda item: -item[1]):
        if key[1] or count < _MIN_LEVEL_UNITS:
            continue
        own = [c.index for c in usable if c.key == key]
        direct = sum(1 for i in own if i + 1 < size and i + 1 not in at)
        if direct >= 0.5 * len(own):
            return key
    return best


def _candidate(index: int, block: Block, base: Style) -> _Candidate | None:
    text = block.text
    # A bullet or a number may lead a heading ("1. We face ..."), in any style.
    marker = _MARKER.match(text)
    skip = marker.end() if marker else 0
    lead_end = skip
    # A plain dict (a Counter per block costs more than the block's few runs).
    weights: dict[Style, int] = {}
    start = 0
    for end, style in block.runs:
        piece = text[max(start, skip) : end]
        start = end
        if end <= skip or not piece.strip():
            lead_end = max(lead_end, end)
            continue
        if _same(style, base):
            break
        lead_end = end
        # Weighted by letters: a run of punctuation or digits does not set the style.
        canon = _canon(style, base)
        weights[canon] = weights.get(canon, 0) + len(_LETTERS.findall(piece))
    if not weights or max(weights.values()) == 0:
        return None
    style = max(weights.items(), key=lambda item: item[1])[0]
    lead = text[skip:lead_end].strip()
    rest = text[lead_end:].strip()
    marked = skip > 0
    if not _LETTERS.search(rest) or len(lead) >= 0.9 * len(text[skip:]):
        return _Candidate(index, text[skip:].strip(), "", style, False, marked)
    if len(lead.split()) < 2:
        return None
    # "Heading- Body": a dash closing the lead (a hyphenated word runs on without a space).
    spaced = " " in text[lead_end - 1 : lead_end + 1]
    if _RUN_IN_CLOSE.search(lead) or (lead.endswith("-") and spaced):
        return _Candidate(index, _TRAILING_DASH.sub("", lead), rest, style, True, marked)
    dash = _DASH_OR_COLON.match(rest)
    if dash:
        return _Candidate(index, lead, rest[dash.end() :], style, True, marked)
    return None


def _same(style: Style, base: Style) -> bool:
    return _canon(style, base) == base


@lru_cache(maxsize=1024)
def _canon(style: Style, base: Style) -> Style:
    # A run without a stated size inherits the body's; sizes within half a point are equal.
    if style.size == 0 or abs(style.size - base.size) < 0.5:
        return style._replace(size=base.size)
    return style


def _body_words(blocks: Sequence[Block], found: list[_Candidate]) -> dict[tuple[int, _Key], int]:
    """Words of body text after each candidate, were its style the heading style.

    The body runs to the next stand-alone candidate or the next candidate of the same style;
    a run-in candidate of another style holds body text (a sub-heading inside a factor).
    """
    # Words before each block, counted once for all the styles tried.
    before = [0, *accumulate(len(b.text.split()) for b in blocks)]
    words: dict[tuple[int, _Key], int] = {}
    for key in dict.fromkeys(c.key for c in found):
        bounds = [c.index for c in found if not c.run_in or c.key == key] + [len(blocks)]
        for c in found:
            if c.key != key:
                continue
            end = bounds[bisect_right(bounds, c.index)]
            words[(c.index, key)] = len(c.rest.split()) + before[max(end, c.index + 1)] - before[c.index + 1]
    return words


def _summary_span(
    blocks: Sequence[Block], found: list[_Candidate], body: dict[tuple[int, _Key], int]
) -> tuple[int, int]:
    start = next((i for i, b in enumerate(blocks) if len(b.text) < 80 and _SUMMARY.match(b.text)), -1)
    if start < 0:
        return (0, 0)
    indices = {c.index for c in found}
    seen: set[str] = set()
    for c in found:
        if c.index <= start:
            continue
        if _RISK_FACTORS_LINE.match(c.heading):
            return (start, c.index)
        key = c.heading.lower()
        if not c.run_in and len(c.heading.split()) <= _MAX_CAPTION_WORDS:
            if key in seen and c.index + 1 in indices:
                return (start, c.index)
            seen.add(key)
    first = next(
        (c.index for c in found if c.index > start and body[(c.index, c.key)] >= MIN_BODY_WORDS),
        start + 1,
    )
    return (start, first)


def _starts(
    blocks: Sequence[Block], usable: list[_Candidate], at: dict[int, _Candidate], key: _Key
) -> list[Start]:
    def leads_to_heading(index: int) -> bool:
        following = at.get(index)
        return following is not None and (not following.run_in or following.key == key)

    own = [c for c in usable if c.key == key]
    # Where nearly all headings are sentences, a short phrase in their style is a sub-heading.
    sentences = len(own) >= _MIN_SHAPED and sum(bool(_CLOSED.search(c.heading)) for c in own) >= 0.8 * len(
        own
    )
    starts: list[Start] = []
    consumed: set[int] = set()
    for c in usable:
        if c.index in consumed:
            continue
        if c.key != key:
            # Another style: a caption when a heading (or another caption) follows at once.
            if (
                not c.run_in
                and not c.marked
                and len(c.heading.split()) <= _MAX_CAPTION_WORDS
                and leads_to_heading(c.index + 1)
            ):
                starts.append(Start(c.index, c.index + 1, c.heading, "", caption=True))
            continue
        heading, rest, end = c.heading, c.rest, c.index + 1
        # A heading split by a page break: the next block, in the same style, continues it.
        # So is a sentence (captions are not) whose next block, in its style, adds a sentence
        # before the body.
        while (
            not rest
            and end in at
            and at[end].key == key
            and (_continued(heading, at[end].heading) or _SENTENCE_END.search(heading))
        ):
            heading = f"{heading} {at[end].heading}"
            rest = at[end].rest
            consumed.add(end)
            end += 1
        short = not rest and len(heading.split()) <= _MAX_CAPTION_WORDS
        if short and (leads_to_heading(end) or _lists_only(blocks, end, at, heading)):
            starts.append(Start(c.index, end, heading, "", caption=True))
        elif sentences and len(heading.split()) <= _MAX_SUBHEADING_WORDS and not _CLOSED.search(heading):
            continue  # stays in the body of the factor before it
        else:
            starts.append(Start(c.index, end, heading, rest, caption=False))
    return starts


def _lists_only(blocks: Sequence[Block], end: int, at: dict[int, _Candidate], heading: str) -> bool:
    """An unpunctuated line over bullets only: a caption of a summary list, not a factor."""
    if _CLOSED.search(heading):
        return False
    following: list[str] = []
    for index in range(end, len(blocks)):
        if index in at:
            break
        following.append(blocks[index].text)
    return len(following) >= 2 and all(_BULLET_BLOCK.match(text) for text in following)


def _continued(first: str, second: str) -> bool:
    return second[:1].islower() or bool(_CONTINUES.search(first))


def describe(style: Style | None, run_in: bool, marked: bool = False) -> str:
    """A reader's name for a heading style: "bold italic", "underline, run-in", "12pt #0068b5"."""
    if style is None:
        return "none"
    parts = [name for name, on in (("bold", style.bold), ("italic", style.italic)) if on]
    if style.underline:
        parts.append("underline")
    if style.size:
        parts.append(f"{style.size:g}pt")
    if style.colour:
        parts.append(style.colour)
    name = " ".join(parts) or "plain"
    if marked:
        name += ", bulleted"
    return f"{name}, run-in" if run_in else name
