"""Plain text (a text 10-K, or Item 1A as other tools extract it) cut into paragraph blocks.

Text extractors lay paragraphs out in three ways, often mixed: blank lines between
paragraphs; one newline between paragraphs (each line a paragraph); and hard-wrapped lines
(a paragraph over several lines of about the same width). Bullet markers may sit alone on
their line, the item on the next. Paragraph boundaries are recovered as follows:

* a blank line always ends a paragraph, and a bullet or enumeration marker starts one;
* in hard-wrapped text (90% of the lines at most 200 characters, and most lines at least 70%
  of that width) a line continues into the next when it is full, so a short line, such as a
  heading directly above its paragraph or a paragraph's last line, ends its paragraph;
* otherwise each line is a paragraph, unless the next line starts in lower case after a line
  without closing punctuation (a paragraph broken by a page break);
* a line holding only a bullet marker joins the next line.
"""

from __future__ import annotations

import re
import statistics

from acquire.analysis.blocks import PLAIN, Block
from acquire.analysis.text import normalise_space

__all__ = ["BULLET", "plain_blocks"]

_GLYPHS = "\u2022\u25cf\u25aa\u25a0\u00b7\u2023\u2043\u25e6\u27a2\u2013*"
BULLET = re.compile(rf"^(?:[{_GLYPHS}]|[o-](?=\s)|\(?(?:[a-z]|\d{{1,2}}|[ivx]{{1,4}})\))")
"""A bullet or enumeration marker at the start of a paragraph."""
_MARKER_ONLY = re.compile(rf"^(?:[{_GLYPHS}o-]|\(?(?:[a-z]|\d{{1,2}}|[ivx]{{1,4}})\))$")
_CLOSED = re.compile(r"[.;:?!)\"']$")
# Lines at most this long (90th percentile), most of them nearly as long, mean the text is
# hard-wrapped.
_MAX_WRAP_WIDTH = 200
_FULL_LINE = 0.7


def plain_blocks(text: str) -> list[Block]:
    """The paragraphs of a plain-text document, as blocks without style."""
    lines = [normalise_space(line) for line in text.splitlines()]
    width = _wrap_width(lines)
    blocks: list[Block] = []
    current: list[str] = []

    def close() -> None:
        if current:
            joined = " ".join(current)
            blocks.append(Block(text=joined, runs=((len(joined), PLAIN),)))
            current.clear()

    for line in lines:
        if not line:
            close()
            continue
        if not current or _continues(current[-1], line, width):
            current.append(line)
        else:
            close()
            current.append(line)
    close()
    return blocks


def _continues(previous: str, line: str, width: int) -> bool:
    """Whether ``line`` continues the paragraph whose last line is ``previous``."""
    if _MARKER_ONLY.match(previous):
        return True
    if BULLET.match(line):
        return False
    if width:
        return len(previous) >= _FULL_LINE * width
    return line[:1].islower() and not _CLOSED.search(previous)


def _wrap_width(lines: list[str]) -> int:
    lengths = sorted(len(line) for line in lines if line)
    if len(lengths) < 10:
        return 0
    width = int(statistics.quantiles(lengths, n=10)[-1])
    # Hard-wrapped text is mostly full lines; one paragraph per line is not.
    full = sum(1 for length in lengths if _FULL_LINE * width <= length <= width)
    return width if width <= _MAX_WRAP_WIDTH and full >= 0.5 * len(lengths) else 0
