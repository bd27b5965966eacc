"""HTML flattened into styled blocks, and page furniture told from a document's repeats."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from acquire.analysis.blocks import PLAIN, Block, Style, html_blocks
from acquire.analysis.furniture import drop_furniture


def _blocks(body: str) -> list[Block]:
    return html_blocks(LexborHTMLParser(f"<html><body>{body}</body></html>"))


def test_runs_keep_their_style_and_white_space_collapses() -> None:
    (block,) = _blocks(
        '<p>  Risk\u00a0<span style="font-weight:bold">Factors</span>\n\t<i>and</i>'
        "<span></span> more\u2003text\u200b </p>"
    )
    assert block.text == "Risk Factors and more text"
    bold, italic = Style(bold=True), Style(italic=True)
    assert block.styled() == [("Risk ", PLAIN), ("Factors ", bold), ("and ", italic), ("more text", PLAIN)]


def test_empty_elements_cut_blocks_only_when_they_are_block_elements() -> None:
    texts = [b.text for b in _blocks("<div>one<span></span>two<td></td>three<br>four<div></div>five</div>")]
    assert texts == ["onetwothree", "four", "five"]
    # A hidden element is left out whole: it does not end the block around it.
    hidden = _blocks('<div>one<div style="display:none"></div>two<span style="display:none">x</span></div>')
    assert [b.text for b in hidden] == ["onetwo"]


def test_inline_styles_nest() -> None:
    (block,) = _blocks(
        '<div style="font-size:14pt;color:#0068b5"><span style="font-weight:700">Heading</span></div>'
    )
    assert block.runs == ((7, Style(bold=True, size=14.0, colour="#0068b5")),)


def test_lines_seen_twice_are_furniture_when_the_document_repeats_them_five_times() -> None:
    # More twice-seen lines than one str.count each is worth: the document is scanned once.
    names = [f"Header number {chr(97 + n)}" for n in range(14)]
    repeated = names[:7]
    document = "".join(f"<p>{name}</p>" * (5 if name in repeated else 2) for name in names)
    body = " ".join(["word"] * 30)
    blocks = [Block(text) for name in names for text in (name, body, name)]
    kept = {b.text for b in drop_furniture(blocks, document)}
    assert kept == {body, *names[7:]}
    # The same answer line by line (fewer twice-seen lines than a scan is worth).
    few = [b for b in blocks if b.text in (body, names[0], names[8])]
    assert {b.text for b in drop_furniture(few, document)} == {body, names[8]}
