"""Page furniture: page numbers, "Table of Contents" back-links, running headers and footers.

Printed 10-Ks repeat a header or footer on every page ("ACME CORP.", "Acme Inc. | 2024 Form
10-K | 17"); the HTML keeps them as short blocks between the paragraphs, sometimes inside a
heading split by the page break. They are removed before a section is segmented.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from acquire.analysis.blocks import Block

__all__ = ["compact_key", "drop_furniture", "is_page_noise", "split_furniture"]

_PAGE_NOISE = re.compile(
    r"^(?:page\s*)?[-\s]*(?:\d{1,3}|[ivxlc]{1,6})[-\s]*$"
    r"|^(?:back\s+to\s+)?(?:table\s+of\s+contents|index)$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")
_EDGE_NUMBER = re.compile(r"^[\W\d]*\d[\W\d]*\s|\s[\W\d]*\d[\W\d]*$")
# A running header or footer is a short line repeated on at least this many pages.
_RUNNING_MIN_REPEATS = 3
_RUNNING_MAX_WORDS = 12
_DOCUMENT_REPEATS = 5
_ELEMENT_TEXT = re.compile(r">([^<>]+)<")
_COUNTS_PER_SCAN = 10


def is_page_noise(text: str) -> bool:
    """A page number or a "Table of Contents" back-link."""
    return not text or bool(_PAGE_NOISE.match(text))


def drop_furniture(blocks: Sequence[Block], document: str = "") -> list[Block]:
    """``blocks`` without page numbers, back-links and running page headers or footers.

    A running header ("ACME CORP.", "Acme Inc. | 2024 Form 10-K | 17") is a short block
    whose text, page numbers aside, recurs at least three times: one per page. Headings and
    captions are not repeated that often (a caption recurs at most once, in the summary).
    A short section spans few pages, so a line seen twice is furniture too when its two
    copies differ only in a number at one end (a page number), or when the whole ``document`` (raw
    HTML, when given) holds it as an element's entire text at least five times.
    """
    return split_furniture(blocks, document)[0]


def split_furniture(blocks: Sequence[Block], document: str = "") -> tuple[list[Block], list[Block]]:
    """:func:`drop_furniture`'s blocks, and the running headers and footers it dropped.

    The dropped blocks' :func:`compact_key` carry the judgement to another flattening of the
    same document (styled blocks whose table cells are not separated by spaces, say).
    """
    kept = [b for b in blocks if not is_page_noise(b.text)]
    keys = [_running_key(b.text) for b in kept]
    repeats = Counter(key for key in keys if key)
    texts: dict[str, set[str]] = {}
    for block, key in zip(kept, keys, strict=True):
        if repeats[key] == 2:
            texts.setdefault(key, set()).add(block.text)
    furniture = {key for key, count in repeats.items() if count >= _RUNNING_MIN_REPEATS}
    numbered = {key for key, seen in texts.items() if _page_numbered(seen)}
    furniture.update(numbered)
    twice = [(key, seen) for key, seen in texts.items() if key not in numbered]
    # One scan of the document for every element text beats one str.count per line past a few lines.
    elements = _element_texts(document) if document and len(twice) > _COUNTS_PER_SCAN else None
    furniture.update(key for key, seen in twice if _repeated_in(document, next(iter(seen)), elements))
    result: list[Block] = []
    dropped: list[Block] = []
    for block, key in zip(kept, keys, strict=True):
        (dropped if key in furniture else result).append(block)
    return result, dropped


def compact_key(text: str) -> str:
    """A short line's identity across flattenings: lower case, no white space, numbers as ``#``."""
    return _DIGITS.sub("#", "".join(text.lower().split()))


def _page_numbered(texts: set[str]) -> bool:
    """Two lines that differ only in a number at their start or end (a page number)."""
    return len(texts) == 2 and len({_EDGE_NUMBER.sub("", text) for text in texts}) == 1


def _repeated_in(document: str, text: str, elements: Counter[str] | None) -> bool:
    if not document:
        return False
    if elements is not None and "<" not in text and ">" not in text:
        # ">text<" occurs exactly where an element's whole text (between a ">" and the next "<") is text
        return elements[text] >= _DOCUMENT_REPEATS
    return document.count(f">{text}<") >= _DOCUMENT_REPEATS


def _element_texts(document: str) -> Counter[str]:
    return Counter(_ELEMENT_TEXT.findall(document))


def _running_key(text: str) -> str:
    if len(text) > 120 or len(text.split()) > _RUNNING_MAX_WORDS:
        return ""
    return _DIGITS.sub("#", text.lower())
