"""HTML and plain text flattened into paragraph blocks that keep their typography.

A :class:`Block` is one paragraph-like unit of a document: its text (white space collapsed,
typographic quotes and dashes folded to ASCII) and its *style runs*, consecutive stretches of
the text set in one :class:`Style` (bold, italic, underline, font size, colour). Headings of
10-K filings are told apart from their body by typography alone in most filings, and which
typography that is differs between filers (bold, bold italic, underline, a larger coloured
font), so the style is recorded in full and interpreted later
(:mod:`acquire.analysis.headings`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, Protocol

from selectolax.lexbor import LexborHTMLParser, LexborNode

from acquire.analysis.text import fold

__all__ = ["PLAIN", "Block", "Region", "Style", "class_styles", "html_blocks", "region_blocks"]


class Style(NamedTuple):
    """The typography of a run of text. ``size`` is in points (0: not stated); ``colour`` is
    a lower-case CSS colour, empty for the default black."""

    bold: bool = False
    italic: bool = False
    underline: bool = False
    size: float = 0.0
    colour: str = ""


PLAIN = Style()


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph-like block: its text and its style runs.

    ``runs`` holds ``(end, style)`` pairs: ``text[previous end:end]`` is set in ``style``.
    Plain-text documents have a single run in :data:`PLAIN`.
    """

    text: str
    runs: tuple[tuple[int, Style], ...] = ()

    def styled(self) -> list[tuple[str, Style]]:
        """The text cut into its style runs, in order."""
        pieces: list[tuple[str, Style]] = []
        start = 0
        for end, style in self.runs:
            pieces.append((self.text[start:end], style))
            start = end
        return pieces


_BLOCK_TAGS = frozenset(
    [
        "div",
        "p",
        "tr",
        "li",
        "ul",
        "ol",
        "table",
        "br",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "center",
        "blockquote",
        "dl",
        "dt",
        "dd",
        "pre",
        "body",
        "page",
    ]
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "ix:header", "-comment"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_FONT_SIZES = {"1": 7.5, "2": 10.0, "3": 12.0, "4": 13.5, "5": 18.0, "6": 24.0, "7": 36.0}
_BLACK = frozenset({"", "#000", "#000000", "black", "windowtext", "rgb(0,0,0)", "inherit", "initial"})
_DECLARATION = re.compile(r"([a-z-]+)\s*:\s*([^;]+)")
_SIZE = re.compile(r"^([\d.]+)\s*(pt|px|em|rem|%)$")
# In str patterns \s covers the Unicode spaces (no-break, en, em, thin).
_SPACE = re.compile(r"\s+")


def html_blocks(tree: LexborHTMLParser, classes: dict[str, str] | None = None) -> list[Block]:
    """Flatten a parsed HTML tree into blocks, dropping hidden content and scripts.

    ``classes`` maps CSS class names to declarations (see :func:`class_styles`) for
    documents styled by a ``<style>`` sheet rather than inline.
    """
    root = tree.body or tree.root
    if root is None:
        return []
    builder = _BlockBuilder(classes or {})
    builder.walk(root, PLAIN)
    builder.flush()
    return builder.blocks


class Region(Protocol):
    """What a partial walk (:func:`region_blocks`) looks for."""

    def holds(self, node: LexborNode) -> bool:
        """Whether the subtree of ``node`` (a block element) may hold a block the walk looks for."""
        ...

    def open(self, blocks: list[Block]) -> bool:
        """Whether the walk must go on through the next element, given every block found so far."""
        ...


def region_blocks(
    tree: LexborHTMLParser, region: Region, classes: dict[str, str] | None = None
) -> list[Block]:
    """The blocks of :func:`html_blocks` that lie in subtrees ``region`` holds or while it is open.

    A block element is skipped whole when the walk is not open and the region does not hold
    it; an element the region holds is walked the same way, child by child. Every block
    returned is one :func:`html_blocks` returns, in the same order: a skip happens only where
    the full walk would end a block anyway.
    """
    root = tree.body or tree.root
    if root is None:
        return []
    builder = _BlockBuilder(classes or {})
    builder.regions(root, PLAIN, region)
    builder.flush()
    return builder.blocks


@lru_cache(maxsize=4096)
def _declarations(css: str) -> tuple[bool, bool | None, bool | None, bool, str | None, str | None]:
    """(hidden, bold, italic, underline, size, colour) stated by an inline style attribute."""
    hidden = False
    bold: bool | None = None
    italic: bool | None = None
    underline = False
    size: str | None = None
    colour: str | None = None
    for name, raw in _DECLARATION.findall(css.lower()):
        value = raw.strip()
        if name == "display" and value.startswith("none"):
            hidden = True
        elif name == "font-weight":
            bold = value in ("bold", "bolder") or (value[:1] in "6789" and value[1:] == "00")
        elif name == "font-style":
            italic = value.startswith(("italic", "oblique"))
        elif name.startswith("text-decoration") and "underline" in value:
            underline = True
        elif name == "font-size":
            size = value.replace(" ", "")
        elif name == "color":
            colour = value.replace(" ", "")
    return hidden, bold, italic, underline, size, colour


_RULE = re.compile(r"([^{}]+)\{([^}]*)\}")
_CLASS_SELECTOR = re.compile(r"^[a-z0-9]*\.([\w-]+)$", re.IGNORECASE)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def class_styles(document: str) -> dict[str, str]:
    """Declarations of the simple class selectors (``.name``, ``p.name``) of a document's style sheets."""
    classes: dict[str, str] = {}
    for sheet in _style_sheets(document):
        for selectors, declarations in _RULE.findall(_CSS_COMMENT.sub("", sheet)):
            for selector in selectors.split(","):
                found = _CLASS_SELECTOR.match(selector.strip())
                if found:
                    name = found.group(1)
                    classes[name] = f"{classes[name]};{declarations}" if name in classes else declarations
    return classes


def _style_sheets(document: str) -> list[str]:
    # str.find runs at C speed on a literal; a case-insensitive regex over 3 MB does not.
    sheets: list[str] = []
    for opening, closing in (("<style", "</style"), ("<STYLE", "</STYLE")):
        at = document.find(opening)
        while at >= 0:
            body = document.find(">", at) + 1
            end = document.find(closing, body)
            if body <= 0 or end < 0:
                break
            sheets.append(document[body:end])
            at = document.find(opening, end)
    return sheets


def _size(value: str, inherited: float) -> float:
    found = _SIZE.match(value)
    if not found:
        return inherited
    number, unit = float(found.group(1)), found.group(2)
    if unit == "pt":
        return number
    if unit == "px":
        return round(number * 0.75, 2)
    base = inherited or 10.0
    return round(base * (number / 100 if unit == "%" else number), 2)


def _colour(value: str) -> str:
    return "" if value in _BLACK else value


class _BlockBuilder:
    """Depth-first walk that cuts text at block elements and records each run's style."""

    __slots__ = ("blocks", "classes", "runs", "styles")

    def __init__(self, classes: dict[str, str]) -> None:
        self.classes = classes
        self.blocks: list[Block] = []
        self.runs: list[tuple[str, Style]] = []
        # (outer style, tag, style attribute) -> inner style (None: hidden). Inline XBRL
        # repeats a few dozen combinations tens of thousands of times.
        self.styles: dict[tuple[Style, str, str], Style | None] = {}

    def regions(self, node: LexborNode, style: Style, region: Region) -> None:
        child = node.child
        while child is not None:
            tag = child.tag or ""
            if tag in _BLOCK_TAGS:
                if self.runs and not "".join(content for content, _ in self.runs).strip():
                    self.runs = []  # white space between blocks makes no block
                if not self.runs and not region.open(self.blocks) and not region.holds(child):
                    child = child.next
                    continue
            first = child.child
            if first is None or tag in _SKIP_TAGS or (first.next is None and first.tag == "-text"):
                self.siblings(child, style, single=True)
            else:
                # Descend the same way: a skip inside happens only where a block would end anyway.
                inner = self.inner(child, tag, style, self.styles)
                if inner is not None:
                    if tag in _BLOCK_TAGS and self.runs:
                        self.flush()
                    self.regions(child, inner, region)
                    if tag in _BLOCK_TAGS and self.runs:
                        self.flush()
            child = child.next

    def walk(self, node: LexborNode, style: Style) -> None:
        self.siblings(node.child, style, single=False)

    def siblings(self, child: LexborNode | None, style: Style, *, single: bool) -> None:
        """Walk ``child`` and the siblings after it (only ``child`` when ``single``)."""
        runs = self.runs
        styles = self.styles
        while child is not None:
            tag = child.tag or ""
            if tag == "-text":
                content = child.text_content
                if content:
                    runs.append((content, style))
            # An empty inline element (inline XBRL's many empty table cells) adds nothing.
            elif tag not in _SKIP_TAGS and ((first := child.child) is not None or tag in _BLOCK_TAGS):
                inner = self.inner(child, tag, style, styles)
                if inner is not None:
                    if tag in _BLOCK_TAGS:
                        if runs:
                            self.flush()
                        self.siblings(first, inner, single=False)
                        if self.runs:
                            self.flush()
                    elif first is not None and first.next is None and first.tag == "-text":
                        # A run in its own inline element (<span style=...>text</span>): no descent.
                        content = first.text_content
                        if content:
                            runs.append((content, inner))
                    else:
                        self.siblings(first, inner, single=False)
                    # A nested block element replaced the list of runs.
                    runs = self.runs
            if single:
                return
            child = child.next

    def inner(
        self, child: LexborNode, tag: str, style: Style, styles: dict[tuple[Style, str, str], Style | None]
    ) -> Style | None:
        """The style inside ``child`` (None: hidden), cached by outer style, tag and declarations."""
        attributes = child.attributes
        css = attributes.get("style") or ""
        if self.classes:
            names = attributes.get("class")
            if names:
                # Inline declarations come last, so they win.
                css = ";".join([*(self.classes.get(n, "") for n in names.split()), css])
        if tag == "font":
            return _inner_style(style, tag, css, attributes)
        key = (style, tag, css)
        try:
            return styles[key]
        except KeyError:
            inner = styles[key] = _inner_style(style, tag, css, attributes)
            return inner

    def flush(self) -> None:
        runs = self.runs
        if not runs:
            return
        self.runs = []
        parts: list[str] = []
        spans: list[tuple[int, Style]] = []
        length = 0
        pending_space = False
        # One pass per block over the runs joined by a separator that is not white space;
        # str.split collapses the same white space as the regex (Unicode spaces), at C speed.
        # Unlike the regex it drops a leading and a trailing space, which no block keeps.
        joined = " ".join("\x00".join(content for content, _ in runs).split())
        if len(runs) == 1 and joined and "\x00" not in joined and "\u200b" not in joined:
            # One run (most paragraphs): its text is the block's, without edge spaces already.
            self.blocks.append(Block(text=fold(joined), runs=((len(joined), runs[0][1]),)))
            return
        if "\u200b" in joined:
            joined = joined.replace("\u200b", "")
        pieces = joined.split("\x00")
        if len(pieces) != len(runs):  # a run held the separator itself
            pieces = [_SPACE.sub(" ", content.replace("\u200b", "")) for content, _ in runs]
        for piece, (_, style) in zip(pieces, runs, strict=True):
            if not piece or piece == " ":
                pending_space = pending_space or bool(piece)
                continue
            if piece[0] == " ":
                pending_space = True
                piece = piece[1:]
            if pending_space and length:
                parts.append(" ")
                length += 1
                # The space belongs to the previous run.
                spans[-1] = (length, spans[-1][1])
            pending_space = piece[-1] == " "
            if pending_space:
                piece = piece[:-1]
            parts.append(piece)
            length += len(piece)
            if spans and spans[-1][1] == style:
                spans[-1] = (length, style)
            else:
                spans.append((length, style))
        if length:
            # Folding typographic characters keeps every offset: each is replaced by one.
            self.blocks.append(Block(text=fold("".join(parts)), runs=tuple(spans)))


def _inner_style(style: Style, tag: str, css: str, attributes: dict[str, str | None]) -> Style | None:
    """The style inside an element, or None when the element is hidden."""
    bold, italic, underline, size, colour = style
    if css:
        hidden, b, i, u, s, c = _declarations(css)
        if hidden:
            return None
        bold = bold if b is None else b
        italic = italic if i is None else i
        underline = underline or u
        if s is not None:
            size = _size(s, size)
        if c is not None:
            colour = _colour(c)
    if tag in ("b", "strong") or tag in _HEADING_TAGS:
        bold = True
    elif tag in ("i", "em"):
        italic = True
    elif tag == "u":
        underline = True
    elif tag == "font":
        font_size = (attributes.get("size") or "").strip()
        if font_size in _FONT_SIZES:
            size = _FONT_SIZES[font_size]
        font_colour = attributes.get("color")
        if font_colour:
            colour = _colour(font_colour.strip().lower())
    inner = Style(bold, italic, underline, size, colour)
    return style if inner == style else inner
