"""Find a 10-K item's section among a document's blocks, for any item (1, 1A, 7A, 16...).

Two layouts are covered:

* **Item headings.** Every short block that starts with "Item <n>" (a heading or a TOC row)
  names an item. An item's section runs from one of its heading blocks to the next block
  naming a later item; of the candidates, the longest span wins. That skips TOC rows (their
  span is one row) and cross-references (they sit inside long sentences, not short blocks).
* **Titled sections**, for 10-Ks laid out as an annual report with a "Form 10-K
  cross-reference index": the section starts at a short block reading the item's title
  ("Risk Factors") set as a heading (in a type other than the body's) and ends at the next
  short block set in the same type or a larger one (the next heading of that level or
  above) that is not a sentence (factor headings may share the section title's type).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from acquire.analysis.blocks import Block, Style

__all__ = [
    "base_style",
    "dominant_style",
    "heading_span",
    "item_of",
    "item_order",
    "same_level",
    "titled_span",
]

_ITEM = re.compile(r"^\W*item\s*(\d{1,2})\s*\.?\s*([a-d])?(?![a-z])", re.IGNORECASE)
# A heading or a TOC row is short; a cross-reference sits in a long sentence.
MAX_HEADING_WORDS = 14
_MAX_TITLE_WORDS = 6
_SENTENCE = re.compile(r"[.?!]['\")\]]?$")


def item_of(text: str) -> str | None:
    """The item a short heading-like block names ("1A" for "ITEM 1A. RISK FACTORS"), or None."""
    found = _ITEM.match(text)
    if found is None or len(text.split()) > MAX_HEADING_WORDS:
        return None
    return found.group(1).lstrip("0") + (found.group(2) or "").upper()


def item_order(code: str) -> tuple[int, str]:
    """A sort key for item codes: 1 < 1A < 1B < 2 < ... < 7A < 8 < ... < 16."""
    digits = code.rstrip("ABCD")
    return int(digits or 0), code[len(digits) :]


def heading_span(blocks: Sequence[Block], item: str) -> list[Block] | None:
    """The longest run from a heading of ``item`` to the next later item's heading."""
    order = item_order(item)
    starts: list[int] = []
    ends: list[int] = []
    for index, block in enumerate(blocks):
        code = item_of(block.text)
        if code == item:
            starts.append(index)
        elif code is not None and item_order(code) > order:
            ends.append(index)
    best: tuple[int, int] | None = None
    best_chars = -1
    for start in starts:
        end = next((i for i in ends if i > start), len(blocks))
        chars = sum(len(b.text) for b in blocks[start:end])
        if chars > best_chars:
            best, best_chars = (start, end), chars
    return list(blocks[best[0] : best[1]]) if best else None


def titled_span(
    blocks: Sequence[Block], title: re.Pattern[str], base: Style | None = None
) -> list[Block] | None:
    """The longest section under a heading reading ``title``, up to the next heading of its level.

    ``base`` is the body type, ``base_style(blocks)`` unless given (searching several titles).
    """
    if base is None:
        base = base_style(blocks)
    best: list[Block] | None = None
    best_chars = -1
    for index, block in enumerate(blocks):
        if not title.match(block.text):
            continue
        style = dominant_style(block)
        if style == base or not _prominent(style, base):
            continue
        end = next(
            (
                j
                for j in range(index + 1, len(blocks))
                if len(blocks[j].text.split()) <= MAX_HEADING_WORDS and same_level(blocks[j], style)
            ),
            len(blocks),
        )
        chars = sum(len(b.text) for b in blocks[index:end])
        if chars > best_chars:
            best, best_chars = list(blocks[index:end]), chars
    return best


def _prominent(style: Style, base: Style) -> bool:
    """A heading's type: bolder, larger or coloured compared with the body's."""
    return (
        (style.bold and not base.bold)
        or (style.size > 0 and base.size > 0 and style.size > base.size)
        or (style.colour != base.colour and style.size >= base.size)
        or (style.underline and not base.underline)
    )


def same_level(block: Block, heading: Style) -> bool:
    """Whether ``block`` is a heading of the level of one set in ``heading`` type, or above."""
    # A sentence is a factor heading inside the section, never the next section's title.
    if _SENTENCE.search(block.text) and len(block.text.split()) > _MAX_TITLE_WORDS:
        return False
    style = dominant_style(block)
    if style == heading:
        return True
    return heading.size > 0 and style.size > heading.size


def dominant_style(block: Block) -> Style:
    """The style that covers most of the block's characters."""
    if len(block.runs) == 1:
        return block.runs[0][1]
    weights: Counter[Style] = Counter()
    start = 0
    for end, style in block.runs:
        weights[style] += end - start
        start = end
    return max(weights.items(), key=lambda item: item[1])[0] if weights else Style()


def base_style(blocks: Sequence[Block]) -> Style:
    """The body type of ``blocks``: the style covering most characters."""
    weights: Counter[Style] = Counter()
    for block in blocks:
        start = 0
        for end, style in block.runs:
            weights[style] += end - start
            start = end
    return max(weights.items(), key=lambda item: item[1])[0] if weights else Style()
