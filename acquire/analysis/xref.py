"""Sections under captions, for 10-Ks laid out as an annual report with a cross-reference index.

Their "Item" texts are the rows of a "Form 10-K cross-reference index"; an item's section
sits under a heading that reads its caption ("Risk Factors", "Properties") set in heading
type, and runs to the next heading of that level (:func:`acquire.analysis.items.titled_span`).

The styled blocks are needed only around those headings, so the document is walked only
through the elements whose text holds a caption, and from each block that reads one on to
the next heading of its level (:func:`acquire.analysis.blocks.region_blocks`). The body type
a heading must stand out from is that of the blocks walked, and page furniture is what the
document's text dropped as furniture (:func:`acquire.analysis.furniture.split_furniture`):
one judgement for both views of the document, made on the view that keeps a table of
contents row's page number (so "Cybersecurity 65" is not a copy of the heading).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import NamedTuple

from selectolax.lexbor import LexborHTMLParser, LexborNode

from acquire.analysis.blocks import Block, Style, class_styles, region_blocks
from acquire.analysis.furniture import compact_key, is_page_noise
from acquire.analysis.items import MAX_HEADING_WORDS, base_style, dominant_style, same_level, titled_span

__all__ = ["Caption", "caption_sections", "captions"]

# Running headers are short lines: a longer block is never compared with them.
_FURNITURE_CHARS = 200
_WORD_GAP = r"\W+"
# A furniture line is read by at most this many blocks.
_FURNITURE_PARTS = 3
# How many of a section's first blocks place it in the text.
_READ_BLOCKS = 8
# A span this short is a table of contents row or an index entry, not a section.
_MIN_CHARS = 600


class Caption(NamedTuple):
    """A caption as a heading: the pattern a heading's text matches, and its words."""

    pattern: re.Pattern[str]
    words: tuple[str, ...]


def captions(title: str) -> list[Caption]:
    """A Form 10-K caption as a heading: in full, then cut at its first "of", comma or "and"."""
    words = re.findall(r"[a-z0-9']+|,", title.lower())
    variants = [[w for w in words if w != ","]]
    for stops in ((",", "of"), (",", "of", "and")):
        short: list[str] = []
        for word in words:
            if word in stops and len(short) >= 2:
                break
            if word != ",":
                short.append(word)
        if short not in variants:
            variants.append(short)
    return [
        Caption(
            re.compile(rf"^\W*{_WORD_GAP.join(map(re.escape, v))}\W*$", re.IGNORECASE),
            tuple(part for word in v for part in re.findall(r"[a-z0-9]+", word)),
        )
        for v in variants
    ]


def caption_sections(
    source: str,
    lines: list[str],
    wanted: dict[str, list[Caption]],
    furniture: Collection[str],
    classes: dict[str, str] | None = None,
) -> dict[str, tuple[int, int]]:
    """The first and last line of each item's section under a heading reading one of its captions.

    ``wanted`` lists each item's :func:`captions` in order of preference; ``furniture`` holds the
    :func:`~acquire.analysis.furniture.compact_key` of the running headers the ``lines`` dropped;
    ``classes`` the document's class styles (:func:`~acquire.analysis.blocks.class_styles`).
    An item whose captions head no section of ``source`` is left out.
    """
    # A section is placed in the text by the line that reads its heading, so a caption no line reads is
    # not searched for, and a document with none is never cut into styled blocks.
    if not wanted:
        return {}
    any_caption = re.compile("|".join(c.pattern.pattern for cs in wanted.values() for c in cs), re.IGNORECASE)
    candidates = [line for line in lines if any_caption.match(line)]
    searched = {item: [c for c in cs if any(map(c.pattern.match, candidates))] for item, cs in wanted.items()}
    titles = {c.pattern.pattern: c for cs in searched.values() for c in cs}
    if not titles:
        return {}
    region = _Headings(list(titles.values()), furniture)
    classes = class_styles(source) if classes is None else classes
    region.finish(region_blocks(LexborHTMLParser(source), region, classes))
    base = base_style(region.kept)
    spans = {key: titled_span(region.kept, c.pattern, base) for key, c in titles.items()}
    located: dict[str, tuple[int, int]] = {}
    for item, cs in searched.items():
        found = _locate([spans[c.pattern.pattern] for c in cs], lines)
        if found is not None:
            located[item] = found
    return located


class _Headings:
    """The blocks around headings reading a title: a :class:`~acquire.analysis.blocks.Region`.

    ``kept`` collects the blocks walked, page noise and furniture left out. The walk is open
    from a block that reads a title (a heading, or a contents row set like one) to the next
    short block of that block's level, as :func:`~acquire.analysis.items.titled_span` ends it.
    A furniture line may be cut into a few blocks ("Financial Statements" over "Notes to
    Consolidated Financial Statements"), so a block is judged with the next ones in view.
    """

    def __init__(self, titles: list[Caption], furniture: Collection[str]) -> None:
        self.titles = [c.pattern for c in titles]
        self.words = [c.words for c in titles]
        # Most elements hold none of the titles' longest (rarest) words: a few scans rule them out.
        self.rare = sorted({max(c.words, key=len) for c in titles})
        self.furniture = furniture
        self.kept: list[Block] = []
        self.seen = 0
        self.levels: list[Style] = []
        # Blocks walked but not judged yet: (block, compact key if short, reads a title).
        self.pending: list[tuple[Block, str | None, bool]] = []
        self.opened = False

    def holds(self, node: LexborNode) -> bool:
        # Every word of a block's text is in its element's text (which also holds hidden text).
        text = node.text().lower()
        if "\u200b" in text:
            text = text.replace("\u200b", "")
        for word in self.rare:
            if word in text:
                return any(all(word in text for word in words) for words in self.words)
        return False

    def open(self, blocks: list[Block]) -> bool:
        if len(blocks) == self.seen:  # nothing new since the last answer
            return self.opened
        self.opened = self._open(blocks)
        return self.opened

    def _open(self, blocks: list[Block]) -> bool:
        if len(blocks) > self.seen:
            for block in blocks[self.seen :]:
                text = block.text
                if not is_page_noise(text):
                    key = compact_key(text) if len(text) <= _FURNITURE_CHARS else None
                    self.pending.append((block, key, any(title.match(text) for title in self.titles)))
            self.seen = len(blocks)
            while len(self.pending) >= _FURNITURE_PARTS:
                self._judge()
        if self.levels or any(title for _, _, title in self.pending):
            return True
        # Closed: the walk may skip what follows, so nothing after these blocks is in view.
        while self.pending:
            self._judge()
        return False

    def finish(self, blocks: list[Block]) -> None:
        """Judge the blocks not yet judged (the walk is over)."""
        self._open(blocks)
        while self.pending:
            self._judge()

    def _judge(self) -> None:
        parts = self._furniture_parts()
        if parts:
            del self.pending[:parts]
            return
        block, _, title = self.pending.pop(0)
        self.kept.append(block)
        if self.levels and len(block.text.split()) <= MAX_HEADING_WORDS:
            self.levels = [level for level in self.levels if not same_level(block, level)]
        if title:
            self.levels.append(dominant_style(block))

    def _furniture_parts(self) -> int:
        """How many of the pending blocks, from the first, read one furniture line (0: none)."""
        key = ""
        for n, (_, part, _) in enumerate(self.pending[:_FURNITURE_PARTS], start=1):
            if part is None:
                return 0
            key += part
            # A page number in a block of its own is on the furniture's line ("Acme Inc. 17").
            if key in self.furniture or f"{key}#" in self.furniture or f"#{key}" in self.furniture:
                return n
        return 0


def _locate(spans: list[list[Block] | None], lines: list[str]) -> tuple[int, int] | None:
    """First and last line of the first long enough of ``spans`` (one per caption), if any.

    A span is placed at the line that reads its heading and goes on reading its first blocks;
    of several (a contents row followed by the section's first sub-heading reads two), at the
    one that reads the most of them.
    """
    for span in spans:
        if span is None or len(span) < 2 or sum(len(b.text) for b in span) < _MIN_CHARS:
            continue
        head, second = span[0].text, span[1].text
        best, best_read = -1, 0
        for i, line in enumerate(lines):
            if line == head and i + 1 < len(lines) and second.startswith(lines[i + 1][:40]):
                read = _reads(lines, i, span)
                if read > best_read:
                    best, best_read = i, read
        if best >= 0:
            # Blocks and lines may split paragraphs differently: walk the span's length.
            chars = sum(len(b.text) + 1 for b in span)
            last, seen = best, 0
            while last + 1 < len(lines) and seen + len(lines[last]) + 1 < chars:
                seen += len(lines[last]) + 1
                last += 1
            return best, last
    return None


def _reads(lines: list[str], start: int, span: list[Block]) -> int:
    """How many of the span's first blocks the lines from ``start`` read, one block a line."""
    read = 0
    for line, block in zip(lines[start : start + _READ_BLOCKS], span, strict=False):
        # Table cells are spaced in the lines, not in the blocks.
        if "".join(line[:60].split())[:30] != "".join(block.text[:60].split())[:30]:
            break
        read += 1
    return read
