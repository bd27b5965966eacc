"""HTML flattened into styled blocks (all of them, or those around what a walk looks for), and page
furniture told from a document's repeats."""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from acquire.analysis.blocks import PLAIN, Block, Style, _BlockBuilder, html_blocks, region_blocks
from acquire.analysis.furniture import compact_key, drop_furniture, split_furniture


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


class _Marked:
    """Holds elements that say "keep" or "open"; open from a block reading "open" to one reading "close"."""

    def __init__(self) -> None:
        self.seen = 0
        self.opened = False

    def holds(self, node: LexborNode) -> bool:
        text = node.text()
        return "keep" in text or "open" in text

    def open(self, blocks: list[Block]) -> bool:
        for block in blocks[self.seen :]:
            text = block.text
            self.opened = (self.opened or text.startswith("open")) and not text.startswith("close")
        self.seen = len(blocks)
        return self.opened


def test_a_partial_walk_returns_the_blocks_of_the_full_walk_it_passes() -> None:
    body = (
        "<div>skip one</div>\n<div><p>keep two</p><p>skip three</p><table><tbody>"
        "<tr><td>skip four</td></tr><tr><td>keep <b>five</b></td></tr></tbody></table></div>"
        '<p>open six</p><div><span>seven</span> <i>eight</i></div><p style="display:none">keep</p>'
        "<div>close nine</div><div>skip ten</div>inline <span>keep eleven</span><div>skip twelve</div>"
        "<div>open <span>thirteen</span></div><div><div>fourteen</div></div>"
    )
    tree = LexborHTMLParser(f"<html><body>{body}</body></html>")
    full = [b.text for b in html_blocks(tree)]
    assert full == [
        "skip one",
        "keep two",
        "skip three",
        "skip four",
        "keep five",
        "open six",
        "seven eight",
        "close nine",
        "skip ten",
        "inline keep eleven",
        "skip twelve",
        "open thirteen",
        "fourteen",
    ]
    partial = [b.text for b in region_blocks(tree, _Marked())]
    # Skipped: whole block elements the region does not hold, while no block opened the walk, and
    # only where no inline text is pending (it joins the next block's text in the full walk).
    assert partial == [
        "keep two",
        "keep five",
        "open six",
        "seven eight",
        "close nine",
        "inline keep eleven",
        "skip twelve",
        "open thirteen",
        "fourteen",
    ]


def test_the_furniture_a_flattening_dropped_is_named_for_another() -> None:
    body = " ".join(["word"] * 30)
    header = "Acme Inc. | 2024 Form 10-K | {}"
    blocks = [Block(text) for n in range(3) for text in (header.format(n + 17), body)]
    kept, dropped = split_furniture(blocks)
    assert [b.text for b in kept] == [body] * 3 and len(dropped) == 3
    # The same header read without the spaces between its table cells.
    assert compact_key("Acme Inc.|2024 Form 10-K|18") == compact_key(dropped[0].text) == "acmeinc.|#form#-k|#"


class _After:
    """Holds elements that read ``word``; open for ``count`` blocks after a block reading it."""

    def __init__(self, word: str, count: int) -> None:
        self.word, self.count = word, count
        self.seen = 0
        self.left = 0

    def holds(self, node: LexborNode) -> bool:
        return self.word in node.text()

    def open(self, blocks: list[Block]) -> bool:
        for block in blocks[self.seen :]:
            self.left = self.count if block.text == self.word else max(0, self.left - 1)
        self.seen = len(blocks)
        return self.left > 0


def test_a_partial_walk_of_a_10k_is_a_part_of_its_full_walk() -> None:
    path = Path(__file__).parent.parent / "fixtures/sec/corpus/html/INTC-FY2023.html.gz"
    tree = LexborHTMLParser(gzip.decompress(path.read_bytes()).decode("utf-8"))
    full = html_blocks(tree)
    partial = region_blocks(tree, _After("Properties", 12))
    assert 20 < len(partial) < len(full) // 4
    at = iter(full)
    # In order, and each one a block of the full walk.
    assert all(any(block == other for other in at) for block in partial)
    texts = [b.text for b in partial]
    # The heading, not the contents row (its page number is a block of its own).
    heading = next(i for i, text in enumerate(texts) if text == "Properties" and texts[i + 1] != "66")
    assert texts[heading + 1] == "As of December 30, 2023, our major facilities consisted of:"


def _flushed(runs: list[tuple[str, Style]]) -> list[Block]:
    builder = _BlockBuilder({})
    builder.runs = runs
    builder.flush()
    return builder.blocks


@settings(max_examples=1000, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab \n\t\u00a0\u2003\u2019"))),
    st.integers(min_value=0, max_value=12),
)
def test_a_block_of_one_run_is_that_run_cut_in_two(text: str, cut: int) -> None:
    # A paragraph of one run takes a short cut; cut in two runs of one style, it takes the
    # general path, which must give the same block. (With a zero-width space, which the cut
    # does not take, the general path's edge spaces depend on where runs meet.)
    bold = Style(bold=True)
    assert _flushed([(text, bold)]) == _flushed([(text[:cut], bold), (text[cut:], bold)])
