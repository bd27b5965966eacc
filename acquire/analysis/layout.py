"""Risk-factor headings from layout alone: plain text, or HTML without usable emphasis.

Paragraphs are first classed: *bullets* (a marker, or a short item after a line ending in a
colon), *fragments* (starting in lower case or ending in ``;``/``,``: list items and wrapped
pieces) and the rest. Bullets and fragments are never headings. Then one of two layouts:

* **Stand-alone headings**: a paragraph of one or two sentences (at most
  :data:`MAX_HEADING_WORDS` words) ending in ``.?!``, or a Title Case line, followed by a
  body paragraph that is longer than it and at least :data:`MIN_BODY_WORDS` words long (a
  line followed by a heading instead is a caption).
* **Run-in headings** (the heading and its first body sentences on one line), used unless
  the document has at least three one-sentence stand-alone headings and at least half as
  many as it has run-in candidates: a paragraph opens a factor when its
  first sentence states a risk (a modal verb or an adverse-outcome word) and does not begin
  with a connective ("However", "In addition", "For example"...) that ties it to the text
  before. The heading is that first sentence.

Captions (a short line without closing punctuation, followed by a heading) become groups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from acquire.analysis.blocks import Block
from acquire.analysis.headings import Start
from acquire.analysis.plain import BULLET
from acquire.analysis.text import sentences

__all__ = ["MAX_HEADING_WORDS", "MIN_BODY_WORDS", "layout_headings"]

MAX_HEADING_WORDS = 80
MIN_BODY_WORDS = 25
_MIN_HEADING_WORDS = 5
_MIN_STANDALONE_WORDS = 3
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_MAX_CAPTION_WORDS = 12
_MIN_STANDALONE = 3
_MIN_RUN_IN_REST = 5
_CLOSED = re.compile(r"[.?!]['\")\]]?$")
_FRAGMENT_END = re.compile(r"(?:[;,]|;\s+(?:and|or)|\b(?:and|or))$", re.IGNORECASE)
_RISK_CUE = re.compile(
    r"\b(?:may|could|might|can|cannot|will|would|must|adversely|adverse|harm\w*|risks?|fail\w*|"
    r"unable|depend\w*|subject|declin\w*|los[se]\w*|reduc\w*|impair\w*|volatil\w*|uncertain\w*)\b",
    re.IGNORECASE,
)
_CONNECTIVE = re.compile(
    r"^(?:however|in\s+addition|additionally|for\s+example|for\s+instance|also|moreover|furthermore|"
    r"further|as\s+a\s+result|accordingly|consequently|therefore|thus|finally|in\s+particular|"
    r"specifically|similarly|likewise|these|this|those|such|that|it|they|there|in\s+the\s+event|"
    r"to\s+the\s+extent|although|while|even\s+if|in\s+that\s+case|otherwise|notwithstanding|"
    r"in\s+connection|as\s+(?:described|discussed|noted)|see|e\.g\.|i\.e\.)\b",
    re.IGNORECASE,
)


def layout_headings(blocks: Sequence[Block]) -> list[Start]:
    """Factor headings and captions of unstyled ``blocks`` (see the module docstring)."""
    texts = [b.text for b in blocks]
    kinds = _kinds(texts)
    standalone = [i for i in range(len(texts)) if _standalone(texts, kinds, i)]
    single = sum(1 for i in standalone if len(sentences(texts[i])) == 1)
    run_ins = sum(1 for i, text in enumerate(texts) if kinds[i] == "text" and _run_in(text))
    starts: list[Start] = []
    # Stand-alone headings are mostly one sentence; in a run-in layout the stand-alone
    # paragraphs that pass are short body paragraphs, outnumbered by run-in headings.
    if single >= _MIN_STANDALONE and 2 * single >= run_ins:
        chosen = set(standalone)
        # A short line whose "body" is the next heading is a caption.
        captions = {i for i in chosen if i + 1 in chosen and len(texts[i].split()) <= _MAX_CAPTION_WORDS}
        chosen -= captions
        for i, text in enumerate(texts):
            if i in captions:
                starts.append(Start(i, i + 1, text, "", caption=True))
            elif i in chosen:
                starts.append(Start(i, i + 1, text, "", caption=False))
            elif _caption(texts, kinds, i) and i + 1 in chosen:
                starts.append(Start(i, i + 1, text, "", caption=True))
        return starts
    for i, text in enumerate(texts):
        if kinds[i] != "text":
            continue
        if _caption(texts, kinds, i):
            starts.append(Start(i, i + 1, text, "", caption=True))
            continue
        run_in = _run_in(text)
        if run_in is not None:
            starts.append(Start(i, i + 1, run_in[0], run_in[1], caption=False))
    return starts


def _kinds(texts: Sequence[str]) -> list[str]:
    kinds: list[str] = []
    listing = False
    for text in texts:
        if BULLET.match(text):
            kind = "bullet"
        elif text[:1].islower() or _FRAGMENT_END.search(text):
            kind = "fragment"
        elif (
            listing
            and len(text.split()) <= MIN_BODY_WORDS
            and not _CLOSED.search(text)
            and not _title_like(text)
        ):
            kind = "bullet"
        else:
            kind = "text"
        # After "... include:" short unpunctuated lines are list items.
        if text.endswith(":"):
            listing = True
        elif kind == "text":
            listing = False
        kinds.append(kind)
    return kinds


def _standalone(texts: Sequence[str], kinds: Sequence[str], i: int) -> bool:
    text = texts[i]
    count = len(text.split())
    if kinds[i] != "text" or not _MIN_STANDALONE_WORDS <= count <= MAX_HEADING_WORDS:
        return False
    if not text[:1].isupper() or len(sentences(text)) > 2:
        return False
    # Unpunctuated, a heading reads as a title ("We Face Intense Competition").
    if not _CLOSED.search(text) and not _title_like(text):
        return False
    if i > 0 and texts[i - 1].endswith(":"):
        return False
    following = i + 1
    if following >= len(texts) or kinds[following] != "text":
        return False
    body = len(texts[following].split())
    return body >= MIN_BODY_WORDS and body > count


def _title_like(text: str) -> bool:
    """Title Case or capitals: most words of four letters or more start with a capital."""
    long_words = [w for w in _WORD.findall(text) if len(w) >= 4]
    return len(long_words) >= 2 and sum(w[0].isupper() for w in long_words) >= 0.75 * len(long_words)


def _caption(texts: Sequence[str], kinds: Sequence[str], i: int) -> bool:
    text = texts[i]
    return (
        kinds[i] == "text"
        and len(text.split()) <= _MAX_CAPTION_WORDS
        and not _CLOSED.search(text)
        and not text.endswith(":")
        and text[:1].isupper()
        and i + 1 < len(texts)
        and kinds[i + 1] == "text"
    )


def _run_in(text: str) -> tuple[str, str] | None:
    parts = sentences(text)
    if len(parts) < 2:
        return None
    first = parts[0]
    count = len(first.split())
    if not _MIN_HEADING_WORDS <= count <= MAX_HEADING_WORDS or not _CLOSED.search(first):
        return None
    if _CONNECTIVE.match(first) or not _RISK_CUE.search(first):
        return None
    rest = text[len(first) :].strip() if text.startswith(first) else " ".join(parts[1:])
    # The body may go on in a list: "... For example, it could:".
    if len(rest.split()) < _MIN_RUN_IN_REST:
        return None
    return first, rest
