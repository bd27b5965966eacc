"""Fixture loading and a synthetic 10-K builder for the analysis tests."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

SEC = Path(__file__).resolve().parent.parent / "fixtures" / "sec"
_ARCHIVES = "www.sec.gov/Archives/edgar/data"

DOCUMENTS: dict[str, str] = {
    "nvda_fy2023": f"{_ARCHIVES}/1045810/000104581023000017/nvda-20230129.htm.gz",
    "nvda_fy2024": f"{_ARCHIVES}/1045810/000104581024000029/nvda-20240128.htm.gz",
    "nvda_fy2025": f"{_ARCHIVES}/1045810/000104581025000023/nvda-20250126.htm.gz",
    "tsla_fy2023": f"{_ARCHIVES}/1318605/000162828024002390/tsla-20231231.htm.gz",
    "tsla_fy2024": f"{_ARCHIVES}/1318605/000162828025003063/tsla-20241231.htm.gz",
    "meta_fy2023": f"{_ARCHIVES}/1326801/000132680124000012/meta-20231231.htm.gz",
    "meta_fy2024": "unplaced/meta-20241231_10-K_FY2024_filed-2025-01-30.htm.gz",
}
APPLE_8K_TXT = "unplaced/aapl-8k-20191115-full-submission.txt.gz"


@cache
def load(name: str) -> bytes:
    """A fixture document's bytes, by key of :data:`DOCUMENTS` or relative path."""
    return gzip.decompress((SEC / DOCUMENTS.get(name, name)).read_bytes())


# Nine distinct, realistic risk factors (heading, body). Bodies use different vocabulary so
# that unrelated factors do not look alike to the matcher.
FACTORS: list[tuple[str, str]] = [
    (
        "Competition in our markets could reduce our market share and margins.",
        "We compete with large established vendors and with start-ups that price aggressively. "
        "Rivals may introduce cheaper alternatives or bundle offerings we cannot match. "
        "If customers switch to competing offerings, our revenue and gross margin would decline.",
    ),
    (
        "We depend on a small number of suppliers for key components.",
        "Our wafers are fabricated by two foundries located in Asia. "
        "A fire, an earthquake or a capacity shortage at either foundry would delay shipments. "
        "Finding and qualifying an alternative source could take more than a year.",
    ),
    (
        "Security breaches and cyber-attacks could disrupt our operations and harm our reputation.",
        "Hackers, criminal groups and nation-state actors target our networks with ransomware and "
        "phishing. A successful intrusion could expose confidential data, interrupt manufacturing "
        "and lead to costly remediation, notification and regulatory penalties.",
    ),
    (
        "Changes in tax laws could increase our effective tax rate.",
        "We are subject to income taxes in the United States and many foreign jurisdictions. "
        "New minimum tax rules, audits by tax authorities and changes in the mix of earnings by "
        "country could raise our tax expense and reduce our net income.",
    ),
    (
        "Fluctuations in foreign currency exchange rates could harm our results.",
        "Most of our sales are denominated in dollars while a growing share of our costs is "
        "incurred in euros and yen. A stronger dollar makes our products more expensive abroad, "
        "and our hedging program covers only a portion of the exposure.",
    ),
    (
        "If we lose key employees or cannot hire qualified engineers, our business may suffer.",
        "Our success depends on retaining senior engineers and executives. Competition for talent "
        "in our industry is intense, and equity awards may lose their retention value if our "
        "stock price falls. Recruiting replacements is slow and expensive.",
    ),
    (
        "We are party to litigation that could be costly and divert management attention.",
        "Plaintiffs have filed class action lawsuits alleging securities law violations, and we "
        "face patent claims from non-practicing entities. Court rulings, settlements or "
        "injunctions could require significant payments or changes to our products.",
    ),
    (
        "The trading price of our common stock has been and may continue to be volatile.",
        "Our stock price can swing widely on quarterly results, analyst downgrades, guidance "
        "changes and market sentiment about our sector. Shareholders could lose part of their "
        "investment, and volatility could trigger securities litigation.",
    ),
    (
        "Climate change and extreme weather could disrupt our facilities and supply.",
        "Droughts threaten the water supply of fabrication plants, and floods or heat waves can "
        "close logistics hubs. New emissions disclosure rules and carbon pricing may also raise "
        "our compliance costs and the energy prices we pay.",
    ),
]


def build_10k(
    factors: list[tuple[str, str]],
    *,
    captions: dict[int, str] | None = None,
    heading_style: str = "font-weight:700;font-style:italic",
    toc: bool = True,
) -> str:
    """A small inline-XBRL-like 10-K: hidden header, TOC, Item 1, Item 1A, Item 1B, Item 2.

    ``captions`` maps a factor index to a caption inserted before it; page furniture (a page
    number and a "Table of Contents" back-link) follows every third factor.
    """
    link = (lambda target, text: f'<a href="#{target}">{text}</a>') if toc else (lambda _t, text: text)
    parts = [
        "<html><head><title>10-K</title></head><body>",
        '<div style="display:none"><ix:header>'
        "<div>Item 1A. Risk Factors hidden header</div>"
        "</ix:header></div>",
        '<div id="toc"></div><table>',
        f"<tr><td>{link('i1', 'Item 1.')}</td><td>{link('i1', 'Business')}</td><td>3</td></tr>",
        f"<tr><td>{link('i1a', 'Item 1A.')}</td><td>{link('i1a', 'Risk Factors')}</td>"
        f"<td>{link('i1a', '9')}</td></tr>",
        f"<tr><td>{link('i1b', 'Item 1B.')}</td><td>{link('i1b', 'Unresolved Staff Comments')}</td></tr>",
        f"<tr><td>{link('i2', 'Item 2.')}</td><td>{link('i2', 'Properties')}</td><td>30</td></tr>",
        "</table>",
        '<div id="i1"></div><div><span style="font-weight:700">Item 1. Business</span></div>',
        "<div><span>We design widgets. See Item 1A. Risk Factors for a discussion of risks.</span></div>",
        '<div id="i1a"></div><div><span style="font-weight:700">Item 1A. Risk Factors</span></div>',
        '<div><span style="font-style:italic">Investing in our stock involves risk. Consider the '
        "following risks together with the other information in this report before you invest. "
        "The risks described below are not the only ones we face: additional risks that we do not "
        "know of today, or that we now deem immaterial, may also impair our business, our "
        "financial condition and the price of our securities. Past performance is no guide to "
        "future results, and the order in which the risks appear says nothing of their likelihood. "
        "Any of these risks, alone or together with others, could cause our actual results to "
        "differ materially from the expectations expressed in the forward-looking statements of "
        "this report, which speak only as of its date and which we do not undertake to update."
        "</span></div>",
    ]
    for index, (heading, body) in enumerate(factors):
        if captions and index in captions:
            parts.append(f'<div><span style="font-weight:700">{captions[index]}</span></div>')
        parts.append(f'<div><span style="{heading_style}">{heading}</span></div>')
        parts.append(f"<div><span>{body}</span></div>")
        if index % 3 == 2:
            parts.append(f'<div style="text-align:center"><span>{10 + index}</span></div><hr/>')
            parts.append('<div><a href="#toc">Table of Contents</a></div>')
    parts += [
        '<div id="i1b"></div>',
        '<div><span style="font-weight:700">Item 1B. Unresolved Staff Comments</span></div>',
        "<div><span>None.</span></div>",
        '<div id="i2"></div><div><span style="font-weight:700">Item 2. Properties</span></div>',
        "<div><span>We lease our headquarters in Santa Clara, California.</span></div>",
        "</body></html>",
    ]
    return "".join(parts)


def build_txt_submission(factors: list[tuple[str, str]]) -> str:
    """A plain-text full submission (.txt) of a 10-K, without any HTML."""
    lines = [
        "<SEC-DOCUMENT>0000000000-24-000001.txt : 20240201",
        "<SEC-HEADER>0000000000-24-000001.hdr.sgml : 20240201",
        "CONFORMED SUBMISSION TYPE:\t10-K",
        "</SEC-HEADER>",
        "<DOCUMENT>",
        "<TYPE>10-K",
        "<SEQUENCE>1",
        "<TEXT>",
        "TABLE OF CONTENTS",
        "",
        "Item 1.  Business ........ 3",
        "Item 1A. Risk Factors ........ 9",
        "Item 1B. Unresolved Staff Comments ........ 20",
        "",
        "ITEM 1. BUSINESS",
        "",
        "We design widgets. See Item 1A. Risk Factors for a discussion of risks.",
        "",
        "ITEM 1A. RISK FACTORS",
        "",
        "Investing in our stock involves risk.",
        "",
    ]
    for heading, body in factors:
        lines += [heading, "", body, ""]
    lines += [
        "ITEM 1B. UNRESOLVED STAFF COMMENTS",
        "",
        "None.",
        "",
        "ITEM 2. PROPERTIES",
        "",
        "We lease our headquarters.",
        "</TEXT>",
        "</DOCUMENT>",
        "</SEC-DOCUMENT>",
    ]
    return "\n".join(lines)
