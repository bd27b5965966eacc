"""Locate and extract Item 1A (Risk Factors) from a 10-K primary document.

Three input shapes are handled: inline-XBRL or plain HTML primary documents; plain text
(Item 1A as other tools extract it, or a whole text 10-K); and the ``.txt`` full submission
(SGML ``<DOCUMENT>`` envelopes), whose 10-K document may itself be HTML or plain text.

Locating the section, in order of preference:

1. **Table-of-contents anchors.** A TOC link (``href="#id"``) whose text is "Item 1A" or
   "Risk Factors" names the section's anchor. The target is verified (one of the first
   blocks after it must read "Item 1A" or "Risk Factors"), because filers do get these links
   wrong: Tesla's FY2023 "Item 1A." link points at the balance sheet. The section ends at the
   nearest verified target of a later item's link after the start.
2. **Item headings** (:mod:`acquire.analysis.items`): the longest run from a short "Item 1A"
   block to the next later item's heading, which skips TOC rows and cross-references.
3. **A plain "Risk Factors" heading**, for 10-Ks laid out as an annual report with a "Form
   10-K cross-reference index" (the only "Item 1A" text is a row of the index): the section
   runs from that heading to the next heading set in the same (or a larger) type.

A 10-K whose Item 1A only says that the risk factors are incorporated by reference (to an
annual report exhibit, say) raises :class:`Item1ANotFoundError` saying so. Page furniture
(page numbers, "Table of Contents" back-links, running page headers and footers) and hidden
content (``display:none``, which holds the ``ix:header``) are removed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

from acquire.analysis.blocks import Block, class_styles, html_blocks
from acquire.analysis.furniture import drop_furniture, is_page_noise
from acquire.analysis.items import heading_span, item_of, item_order, titled_span
from acquire.analysis.models import ExtractionMethod
from acquire.analysis.plain import plain_blocks
from acquire.analysis.text import normalise_space

__all__ = [
    "Block",
    "Item1ANotFoundError",
    "Item1ASection",
    "decode_document",
    "extract_item1a",
    "primary_document",
]


class Item1ANotFoundError(ValueError):
    """The document has no recognisable Item 1A (Risk Factors) section."""


@dataclass(frozen=True, slots=True)
class Item1ASection:
    """The extracted section: its blocks, its plain text and how it was found."""

    blocks: tuple[Block, ...]
    method: ExtractionMethod

    @property
    def text(self) -> str:
        """The section as plain text, one block per line."""
        return "\n".join(block.text for block in self.blocks)


_ITEM = "1A"
_ORDER = item_order(_ITEM)
# The items that may follow 1A: their links bound the section (locating every later item's
# anchor would search the document once per link for nothing).
_LAST_END = item_order("2")
_RISK_FACTORS = re.compile(r"^\W*risk\s+factors\W*$", re.IGNORECASE)
_END_LINK = re.compile(r"^\W*(?:unresolved\s+staff|cybersecurity|properties)", re.IGNORECASE)
_INCORPORATED = re.compile(r"incorporated\s+(?:herein\s+|in\s+this\s+\w+\s+)?by\s+reference", re.IGNORECASE)
_LINK = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*["']#([^"'>]+)["'][^>]*>(.*?)</a\s*>""", re.IGNORECASE | re.DOTALL
)
_LINK_HINT = re.compile(r"item|risk|unresolved|cyber|propert", re.IGNORECASE)
_ID_ATTR = re.compile(r"""\b(?:id|name)\s*=\s*["']?$""", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SGML_TYPE = re.compile(r"<TYPE>\s*([^\s<]+)", re.IGNORECASE)
_GAP = r"(?:\s|&#160;|&nbsp;|&#xa0;|<[^>]{0,400}>)*"
_RAW_ITEM = re.compile(rf">{_GAP}item{_GAP}(\d{{1,2}}){_GAP}\.?{_GAP}([a-d])?(?![a-z])", re.IGNORECASE)
_PRE = re.compile(r"<pre\b", re.IGNORECASE)
_LOOKS_HTML = re.compile(r"<(?:html|body|div|p|table|font)\b", re.IGNORECASE)
# A section this short is a TOC row or a stub, never the real Item 1A.
_MIN_SECTION_CHARS = 1500
# How far past an anchor its heading may sit (behind a back-link or a running header).
_TARGET_WINDOW = 4000
_TARGET_BLOCKS = 4
_RAW_TRIES = 3


def extract_item1a(document: str | bytes) -> Item1ASection:
    """Extract Item 1A from a 10-K primary document, plain text, or full submission ``.txt``.

    Raises:
        Item1ANotFoundError: when no Item 1A section can be located, or when the document
            incorporates it by reference instead of stating it.
    """
    text = primary_document(decode_document(document) if isinstance(document, bytes) else document)
    if _LOOKS_HTML.search(text[:20000]):
        classes = class_styles(text)
        section = _from_anchors(text, classes) or _from_raw_headings(text, classes)
        if section is not None:
            return section
        try:
            return _from_blocks(html_blocks(LexborHTMLParser(text), classes), "heading", "HTML", text)
        except Item1ANotFoundError:
            # Older filings wrap a text 10-K in <pre>: its lines are the layout.
            if not _PRE.search(text):
                raise
    return _from_blocks(plain_blocks(html.unescape(_TAG.sub("", text))), "plain-text", "text", "")


def decode_document(raw: bytes) -> str:
    """A filing document's bytes as text (UTF-8, else Windows-1252)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # Older EDGAR documents are Windows-1252 more often than Latin-1.
        return raw.decode("cp1252", errors="replace")


def primary_document(text: str) -> str:
    """The 10-K document of a full submission ``.txt``; any other document as it is.

    Raises:
        Item1ANotFoundError: when a full submission holds no 10-K (10-K405, 10-KT, ...) document.
    """
    head = text[:2000].lstrip().upper()
    if head.startswith(("<SEC-DOCUMENT>", "<SEC-HEADER>", "<IMS-HEADER>", "<DOCUMENT>")):
        return _primary_from_submission(text)
    return text


def _primary_from_submission(text: str) -> str:
    """The 10-K document inside a full submission's SGML envelopes.

    Raises:
        Item1ANotFoundError: when the submission holds no 10-K (10-K405, 10-KT, ...) document.
    """
    documents = _sgml_documents(text)
    if not documents:
        return text
    kinds: list[str] = []
    for body in documents:
        kind = _SGML_TYPE.search(body[:2000])
        kinds.append(kind.group(1).upper() if kind else "?")
        if kinds[-1].startswith("10-K"):
            return _sgml_text(body)
    types = ", ".join(dict.fromkeys(kinds))
    raise Item1ANotFoundError(
        f"no Item 1A: the full submission has no 10-K document (document types: {types})"
    )


def _sgml_documents(text: str) -> list[str]:
    """The bodies of the ``<DOCUMENT>`` envelopes (a lazy DOTALL regex over megabytes is slow)."""
    upper = text.upper()
    bodies: list[str] = []
    at = upper.find("<DOCUMENT>")
    while at >= 0:
        end = upper.find("</DOCUMENT>", at)
        if end < 0:
            break
        bodies.append(text[at + len("<DOCUMENT>") : end])
        at = upper.find("<DOCUMENT>", end)
    return bodies


def _sgml_text(body: str) -> str:
    upper = body.upper()
    at = upper.find("<TEXT>")
    if at < 0:
        return body
    end = upper.find("</TEXT>", at)
    return body[at + len("<TEXT>") : end if end >= 0 else len(body)]


def _from_blocks(blocks: list[Block], method: ExtractionMethod, kind: str, document: str) -> Item1ASection:
    kept = [b for b in blocks if not is_page_noise(b.text)]
    span = heading_span(kept, _ITEM)
    if span is not None and _chars(span) >= _MIN_SECTION_CHARS:
        return Item1ASection(blocks=tuple(drop_furniture(span, document)), method=method)
    if span is not None and _INCORPORATED.search(" ".join(b.text for b in span)):
        stub = normalise_space(" ".join(b.text for b in span[1:]))[:300]
        raise Item1ANotFoundError(
            f"Item 1A is not in this document: it is incorporated by reference ({stub})"
        )
    titled = titled_span(drop_furniture(kept, document), _RISK_FACTORS)
    if titled is not None and _chars(titled) >= _MIN_SECTION_CHARS:
        return Item1ASection(blocks=tuple(titled), method="title-heading")
    raise Item1ANotFoundError(f"no Item 1A (Risk Factors) section found in the {kind} document")


def _chars(blocks: list[Block]) -> int:
    return sum(len(b.text) for b in blocks)


# --------------------------------------------------------------------------- raw headings


def _from_raw_headings(text: str, classes: dict[str, str]) -> Item1ASection | None:
    """The item-heading search on the likeliest slices of the raw HTML only.

    Parsing and walking a whole 3 MB document costs ~10x more than the Item 1A slice, so the
    "Item <n>" texts that open an element are found by a regex first, and only the longest
    spans from an "Item 1A" to the next later item are parsed. A slice counts when its first
    block is a short "Item 1A" heading and the section is long enough; when none does, the
    caller walks the whole document.
    """
    starts: list[int] = []
    ends: list[int] = []
    for found in _RAW_ITEM.finditer(text):
        code = found.group(1).lstrip("0") + (found.group(2) or "").upper()
        if code == _ITEM:
            starts.append(found.start())
        elif item_order(code) > _ORDER:
            ends.append(found.start())
    spans = [(start, next((pos for pos in ends if pos > start), len(text))) for start in starts]
    spans.sort(key=lambda span: span[0] - span[1])
    for start, end in spans[:_RAW_TRIES]:
        fragment = text[text.rfind("<", 0, start) : end]
        blocks = [b for b in html_blocks(LexborHTMLParser(fragment), classes) if not is_page_noise(b.text)]
        if not blocks or item_of(blocks[0].text) != _ITEM:
            continue
        span = heading_span(blocks, _ITEM)
        if span is not None and _chars(span) >= _MIN_SECTION_CHARS:
            return Item1ASection(blocks=tuple(drop_furniture(span, text)), method="heading")
    return None


# --------------------------------------------------------------------------- anchors


def _from_anchors(text: str, classes: dict[str, str]) -> Item1ASection | None:
    # A regex over the raw HTML finds the TOC links ~5x faster than parsing the whole document.
    start_ids: list[str] = []
    end_ids: list[str] = []
    for found in _LINK.finditer(text):
        # Most links are page back-links ("Table of Contents"); skip them before the costlier
        # tag stripping and unescaping.
        if not _LINK_HINT.search(found.group(2)):
            continue
        target = html.unescape(found.group(1))
        label = _visible_text(found.group(2))
        item = item_of(label)
        if item == _ITEM or _RISK_FACTORS.match(label):
            start_ids.append(target)
        elif (item is not None and _ORDER < item_order(item) <= _LAST_END) or _END_LINK.match(label):
            end_ids.append(target)
    starts = sorted({p for p in (_anchor_pos(text, t) for t in dict.fromkeys(start_ids)) if p >= 0})
    ends = sorted({p for p in (_anchor_pos(text, t) for t in dict.fromkeys(end_ids)) if p >= 0})
    for start in starts:
        if not _verified(text[start : start + _TARGET_WINDOW], classes):
            continue
        end = next((pos for pos in ends if pos > start), -1)
        if end < 0:
            continue
        blocks = _trim(html_blocks(LexborHTMLParser(text[start:end]), classes), text)
        if _chars(blocks) >= _MIN_SECTION_CHARS:
            return Item1ASection(blocks=tuple(blocks), method="toc-anchor")
    return None


def _verified(fragment: str, classes: dict[str, str]) -> bool:
    """Whether one of the first blocks at an anchor is the Item 1A heading."""
    blocks = [b for b in html_blocks(LexborHTMLParser(fragment), classes) if not is_page_noise(b.text)]
    return any(_is_heading(b.text) for b in blocks[:_TARGET_BLOCKS])


def _is_heading(text: str) -> bool:
    return item_of(text) == _ITEM or bool(_RISK_FACTORS.match(text))


def _anchor_pos(text: str, anchor: str) -> int:
    """Offset of the start tag carrying ``id``/``name`` == ``anchor``, or -1."""
    # Substring search (C speed) for the value, then a check that it is an id/name attribute:
    # a regex scan of a 3 MB document per link is 50x slower.
    at = text.find(anchor)
    while at >= 0:
        before = text[max(0, at - 12) : at]
        after = text[at + len(anchor) : at + len(anchor) + 1]
        if _ID_ATTR.search(before) and (after in "\"' />" or not after):
            return text.rfind("<", 0, at)
        at = text.find(anchor, at + 1)
    return -1


def _trim(blocks: list[Block], document: str) -> list[Block]:
    """Drop page furniture and anything before the heading or from a later item's heading on."""
    kept = drop_furniture(blocks, document)
    first = next((i for i, b in enumerate(kept[:_TARGET_BLOCKS]) if _is_heading(b.text)), 0)
    kept = kept[first:]
    while kept and (item := item_of(kept[-1].text)) is not None and item_order(item) > _ORDER:
        kept.pop()
    return kept


def _visible_text(fragment: str) -> str:
    return normalise_space(html.unescape(_TAG.sub(" ", fragment)))
