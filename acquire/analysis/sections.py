"""Every item of a 10-K: ``extract_sections(document) -> list[Section]``.

The document is flattened once into its visible text, one paragraph (or table row) per line,
with page furniture removed (page numbers, "Table of Contents" back-links, running page
headers and footers: :func:`acquire.analysis.blocks.drop_furniture`) and hidden content
(the inline-XBRL header, styles, scripts) left out. :func:`document_text` returns that text;
a :class:`Section`'s ``start``/``end`` are offsets into it.

Finding the items (the Item 1A locator of :mod:`acquire.analysis.item1a`, for every item):

1. **Item headings.** Every short line that starts with "Item <n>" (optionally after "Part
   <n>") is a candidate heading (:func:`acquire.analysis.items.item_of`): a heading of the
   body, a row of the table of contents, or a running header. Each candidate's *span* runs
   to the next candidate of a later item. The items' real headings are the chain of
   candidates in item order and document order that maximises the sum of the spans'
   log-sizes: a TOC row's span is one row, a body heading's is its section, and the order
   constraint places short items ("Item 4. Not applicable.") between their neighbours.
   A section ends where the next found item starts; the last one at the signatures.
2. **Titled sections**, for 10-Ks laid out as an annual report with a "Form 10-K
   cross-reference index" (the "Item" texts are rows of the index): an item the chain left
   as a stub is searched as a heading reading its Form 10-K caption set in heading type
   (:mod:`acquire.analysis.xref`), as Item 1A is.

Items whose section says they are not applicable, reserved or omitted are ``omitted``; items
whose short section says it is incorporated by reference (Part III to the proxy statement,
say) are ``incorporated_by_reference``; both keep their text.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from acquire.analysis.blocks import Block, class_styles
from acquire.analysis.furniture import compact_key, split_furniture
from acquire.analysis.item1a import decode_document, primary_document
from acquire.analysis.items import MAX_HEADING_WORDS, item_of, item_order
from acquire.analysis.text import fold
from acquire.analysis.xref import caption_sections, captions

__all__ = [
    "ITEMS",
    "ITEM_TITLES",
    "Section",
    "SectionStatus",
    "document_text",
    "extract_sections",
    "text_and_sections",
]

#: Form 10-K's items, in order, with their captions as the form states them.
ITEM_TITLES: dict[str, str] = {
    "1": "Business",
    "1A": "Risk Factors",
    "1B": "Unresolved Staff Comments",
    "1C": "Cybersecurity",
    "2": "Properties",
    "3": "Legal Proceedings",
    "4": "Mine Safety Disclosures",
    "5": "Market for Registrant's Common Equity, Related Stockholder Matters and Issuer Purchases of "
    "Equity Securities",
    "6": "[Reserved]",
    "7": "Management's Discussion and Analysis of Financial Condition and Results of Operations",
    "7A": "Quantitative and Qualitative Disclosures About Market Risk",
    "8": "Financial Statements and Supplementary Data",
    "9": "Changes in and Disagreements with Accountants on Accounting and Financial Disclosure",
    "9A": "Controls and Procedures",
    "9B": "Other Information",
    "9C": "Disclosure Regarding Foreign Jurisdictions that Prevent Inspections",
    "10": "Directors, Executive Officers and Corporate Governance",
    "11": "Executive Compensation",
    "12": "Security Ownership of Certain Beneficial Owners and Management and Related Stockholder Matters",
    "13": "Certain Relationships and Related Transactions, and Director Independence",
    "14": "Principal Accountant Fees and Services",
    "15": "Exhibits and Financial Statement Schedules",
    "16": "Form 10-K Summary",
}
ITEMS: tuple[str, ...] = tuple(ITEM_TITLES)

SectionStatus = Literal["present", "omitted", "incorporated_by_reference"]


@dataclass(frozen=True, slots=True)
class Section:
    """One item of a 10-K: ``text`` is ``document_text(document)[start:end]``."""

    item: str
    title: str
    start: int
    end: int
    text: str
    status: SectionStatus = "present"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The section without its text (for listings)."""
        return {
            "item": self.item,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "chars": self.end - self.start,
            "status": self.status,
        }


_PART = re.compile(r"^\W*part\s+[ivx]{1,4}\b\W*", re.IGNORECASE)
_ITEM_PREFIX = re.compile(
    r"^\W*item\s*\d{1,2}\s*\.?\s*[a-d]?(?![a-z])\s*[.:\-\u2013\u2014]*\s*", re.IGNORECASE
)
_PART_LINE = re.compile(r"^\W*part\s+[ivx]{1,4}\b[^a-z]{0,3}(?:\s+\S+){0,8}$", re.IGNORECASE)
_OMITTED = re.compile(r"\b(?:not\s+applicable|none\b|reserved|omitted|intentionally\s+left)", re.IGNORECASE)
_INCORPORATED = re.compile(
    r"incorporated\s+(?:herein\s+)?(?:in\s+\w+\s+)?(?:\w+\s+)?by\s+reference", re.IGNORECASE
)
_ABSENT_ROW = re.compile(r"\b(?:none|not\s+applicable|omitted|reserved)\W*$", re.IGNORECASE)
# Item headings found in a document whose sections cover less than this share of its text
# are the rows of a cross-reference index, not the sections.
_XREF_COVERAGE = 0.25
_LAST_ITEM_END = re.compile(
    r"^\W*(?:signatures?|exhibit\s+index|index\s+to\s+(?:consolidated\s+)?financial\s+statements.*"
    r"|report\s+of\s+independent\s+registered\s+public\s+accounting\s+firm)\W*$",
    re.IGNORECASE,
)
_HIDDEN = (("<ix:header", "</ix:header>"), ("<head", "</head>"))
_DROPPED = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_LINE_BREAK = re.compile(r"<(?:/(?:p|div|tr|li|h[1-6]|table|blockquote|center)|br|hr)\b[^>]*>", re.IGNORECASE)
_CELL = re.compile(r"</t[dh]\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_LOOKS_HTML = re.compile(r"<(?:html|body|div|p|table|font)\b", re.IGNORECASE)
# A section with fewer characters than this after its heading is a stub: a TOC row, an
# index entry or an "omitted" note.
_STUB_CHARS = 600
_MAX_ITEM_WORDS = 24


def document_text(document: str | bytes) -> str:
    """The visible text of a filing document, one paragraph per line, furniture removed."""
    try:
        source = _source(document)
    except ValueError:  # a full submission without a 10-K: all of its text
        source = decode_document(document) if isinstance(document, bytes) else document
    return "\n".join(_lines(source))


def extract_sections(document: str | bytes) -> list[Section]:
    """Every item of a 10-K primary document (HTML, plain text or full submission), in order.

    Raises:
        ValueError: for a full submission that holds no 10-K document.
    """
    return text_and_sections(document)[1]


def text_and_sections(document: str | bytes) -> tuple[str, list[Section]]:
    """:func:`document_text` and :func:`extract_sections` at the cost of one."""
    source = _source(document)
    lines, furniture, shown = _flatten(source)
    chosen = _chain(lines)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    text = "\n".join(lines)
    sections: list[Section] = []
    for n, (index, item) in enumerate(chosen):
        if n + 1 < len(chosen):
            end_line = chosen[n + 1][0]
        else:
            end_line = next(
                (j for j in range(index + 1, len(lines)) if _LAST_ITEM_END.match(lines[j])), len(lines)
            )
        while end_line - 1 > index and _PART_LINE.match(lines[end_line - 1]):
            end_line -= 1  # the next part's heading belongs to the next item
        start, end = offsets[index], max(offsets[index], offsets[end_line] - 1)
        body = text[start:end]
        sections.append(Section(item, _title(lines, index, item), start, end, body, _status(body)))
    if _LOOKS_HTML.search(source[:20000]) and _covered(sections) < _XREF_COVERAGE * len(text):
        return text, _titled_sections(lines, furniture, shown, class_styles(source), sections)
    return text, sections


def _source(document: str | bytes) -> str:
    text = decode_document(document) if isinstance(document, bytes) else document
    return primary_document(text)


def _lines(source: str) -> list[str]:
    return _flatten(source)[0]


def _flatten(source: str) -> tuple[list[str], frozenset[str], str]:
    """The document's lines, the :func:`compact_key` of the running headers left out of them, and
    the document without its hidden parts (the inline-XBRL header, the HTML head)."""
    markup = _LOOKS_HTML.search(source[:20000]) is not None
    shown = _shown(source) if markup else source
    raw = _visible_html(shown) if markup else source
    # str.split collapses the white space a regex would (Unicode spaces) at C speed, line by line.
    parts = fold(raw).split("\n")
    # Page numbers go with the furniture (split_furniture).
    blocks = [Block(line) for part in parts if (line := " ".join(part.split()))]
    kept, dropped = split_furniture(blocks)
    # An item heading recurs once in the table of contents: never furniture.
    headings = [b for b in dropped if _item(b.text) is not None]
    if headings:
        ids = {id(b) for b in kept} | {id(b) for b in headings}
        kept = [b for b in blocks if id(b) in ids]
    furniture = frozenset(compact_key(b.text) for b in dropped if _item(b.text) is None)
    return [b.text for b in kept], furniture, shown


def _shown(source: str) -> str:
    for opening, closing in _HIDDEN:
        at = source.find(opening)
        while at >= 0:
            end = source.find(closing, at)
            if end < 0:
                break
            source = source[:at] + source[end + len(closing) :]
            at = source.find(opening, at)
    return source


def _visible_html(source: str) -> str:
    """The text of HTML without hidden parts (:func:`_shown`), a line per block, cells spaced."""
    source = _DROPPED.sub("", source)
    source = _CELL.sub(" ", _LINE_BREAK.sub("\n", source))
    return html.unescape(_TAG.sub("", source)).replace("\xa0", " ")


def _item(line: str) -> str | None:
    if "item" not in line[:40].lower():
        return None
    words = _PART.sub("", line, count=1).split()
    # Item 5's and Item 12's own captions run past a heading's usual length.
    if len(words) > _MAX_ITEM_WORDS:
        return None
    code = item_of(" ".join(words[:MAX_HEADING_WORDS]))
    return code if code in ITEM_TITLES else None


def _chain(lines: list[str]) -> list[tuple[int, str]]:
    """The item headings: the best chain of candidates in item and document order."""
    candidates = [(i, code) for i, line in enumerate(lines) if (code := _item(line)) is not None]
    if not candidates:
        return []
    sizes = [len(line) + 1 for line in lines]
    weights: list[float] = []
    for n, (index, code) in enumerate(candidates):
        order = item_order(code)
        end = next((i for i, c in candidates[n + 1 :] if item_order(c) > order), len(lines))
        weights.append(1.0 + math.log1p(sum(sizes[index:end])))
    # Longest-path DP over candidates (a few hundred at most): best[n] is the best chain ending at n.
    best = list(weights)
    back = [-1] * len(candidates)
    for n, (_, code) in enumerate(candidates):
        order = item_order(code)
        for m in range(n):
            if item_order(candidates[m][1]) < order and best[m] + weights[n] > best[n]:
                best[n], back[n] = best[m] + weights[n], m
    n = max(range(len(candidates)), key=best.__getitem__)
    chain: list[tuple[int, str]] = []
    while n >= 0:
        chain.append(candidates[n])
        n = back[n]
    return chain[::-1]


def _title(lines: list[str], index: int, item: str) -> str:
    rest = _ITEM_PREFIX.sub("", _PART.sub("", lines[index], count=1), count=1).strip()
    if len(rest) > 3:
        return rest
    # A heading split over two lines ("Item 7." then its caption): the caption is short.
    following = lines[index + 1] if index + 1 < len(lines) else ""
    words = len(following.split())
    short = 0 < words <= _MAX_ITEM_WORDS and not _PART_LINE.match(following)
    if short and (following[-1:] not in ".;" or words <= 6):
        return following
    return ITEM_TITLES[item]


def _status(body: str) -> SectionStatus:
    after = body.split("\n", 1)[1] if "\n" in body else ""
    if len(after) >= 4 * _STUB_CHARS:
        return "present"
    if _INCORPORATED.search(after):
        return "incorporated_by_reference"
    if len(after) < _STUB_CHARS and (not after.strip() or _OMITTED.search(body)):
        return "omitted"
    return "present"


def _covered(sections: list[Section]) -> int:
    return sum(s.end - s.start for s in sections)


def _titled_sections(
    lines: list[str], furniture: frozenset[str], shown: str, classes: dict[str, str], found: list[Section]
) -> list[Section]:
    """Cross-reference-index layouts: each stub item searched as a heading reading its caption.

    The index row stays the answer for items it says are absent ("None") and for items
    whose caption heads no section of the document (:func:`acquire.analysis.xref.caption_sections`).
    """
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    text = "\n".join(lines)
    stubs = [s.item for s in found if s.end - s.start < _STUB_CHARS and not _absent(s)]
    wanted = {item: captions(ITEM_TITLES[item]) for item in stubs}
    located = caption_sections(shown, lines, wanted, furniture, classes)
    results: list[Section] = []
    for section in found:
        if section.item not in stubs:
            long = section.end - section.start >= _STUB_CHARS
            results.append(section if long else replace(section, status="omitted"))
        elif section.item not in located:  # the row points elsewhere (pages of the annual report, the proxy)
            results.append(replace(section, status="present"))
        else:
            first, last = located[section.item]
            start, end = offsets[first], offsets[last + 1] - 1
            body = text[start:end]
            results.append(Section(section.item, ITEM_TITLES[section.item], start, end, body, _status(body)))
    return results


def _absent(section: Section) -> bool:
    """An index row that says the item is absent ("None")."""
    return bool(_ABSENT_ROW.search(_ITEM_PREFIX.sub("", section.text.split("\n", 1)[0], count=1)))
