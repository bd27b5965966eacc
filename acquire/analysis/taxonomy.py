"""Deterministic, keyword-weighted classification of risk factors into 21 categories.

Rules, in full:

* Every category in :data:`RULES` has weighted terms. A term is a word (``tariffs``), a
  prefix ending in ``*`` (``competit*`` matches competition, competitors, ...) or a phrase of
  up to three words (``interest rates``), matched against the word tokens of
  :func:`acquire.analysis.text.words`.
* A factor's score for a category is ``5 x`` the weights of the terms in its heading (the
  heading states the risk; the body elaborates and digresses) plus the weights of the terms
  in its body, where each body term counts at most :data:`BODY_CAP` time(s): the breadth of a
  body's vocabulary on a topic is evidence, a word repeated twenty times is not.
* The highest score wins; ties go to the category listed first in :class:`RiskCategory`.
  A best score below :data:`MIN_SCORE` means ``other``.
* Factors matched across the years get one category, classified on all their text
  (:func:`harmonise_categories`).

The taxonomy (see :class:`acquire.analysis.models.RiskCategory`): macroeconomic,
geopolitical/trade, competition, products/technology, supply chain, customers,
cybersecurity, privacy, IT/continuity, litigation, regulation, intellectual property, human
capital, capital/liquidity, market risk (FX, rates, commodities), tax, M&A, climate/ESG,
pandemic/health, stock/governance, other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from acquire.analysis.models import RiskCategory, RiskFactor

if TYPE_CHECKING:
    from acquire.analysis.matching import FactorText, Matching

__all__ = ["BODY_CAP", "HEADING_WEIGHT", "MIN_SCORE", "RULES", "classify", "harmonise_categories"]

HEADING_WEIGHT = 5.0
BODY_CAP = 1
MIN_SCORE = 4.0

_C = RiskCategory
# One category per block reads better than one term per line.
# fmt: off
RULES: dict[RiskCategory, dict[str, float]] = {
    _C.MACROECONOMIC: {
        "macroeconomic": 3, "recession*": 3, "inflation*": 3, "economic conditions": 3,
        "economic downturn*": 3, "economy": 2, "economic": 1, "consumer spending": 2, "unemployment": 2,
        "financial markets": 1, "banking": 1, "bank failures": 2,
    },
    _C.GEOPOLITICAL_TRADE: {
        "geopolitical": 3, "tariff*": 3, "export control*": 3, "export*": 2, "import*": 1, "trade": 1,
        "trade policies": 3, "sanctions": 2, "embargo*": 3, "china": 2, "taiwan": 2, "russia": 2,
        "ukraine": 2, "israel": 2, "middle east": 2, "international operations": 2,
        "international sales": 2, "international": 1, "foreign governments": 2, "wars": 2,
        "hostilities": 2, "political": 1,
    },
    _C.COMPETITION: {
        "competit*": 3, "competitor*": 3, "market share": 2, "rival*": 2, "new entrants": 2,
        "pricing pressure": 2,
    },
    _C.PRODUCTS_TECHNOLOGY: {
        "new products": 3, "product*": 1, "technolog*": 2, "innovat*": 2, "artificial intelligence": 2,
        "research and development": 2, "defect*": 2, "software": 1, "features": 1, "platform*": 1,
        "metaverse": 3, "autopilot": 3, "self driving": 3, "reality labs": 3, "evolving needs": 3,
        "recall*": 2, "warranty": 2, "brand*": 1, "reputation": 1,
    },
    _C.SUPPLY_CHAIN: {
        "supplier*": 3, "supply chain*": 3, "supply": 2, "manufactur*": 2, "component*": 2,
        "foundr*": 3, "raw materials": 3, "lithium": 2, "battery cells": 3, "inventory": 2,
        "logistics": 2, "wafer*": 2, "contract manufacturers": 3, "shortage*": 2, "lead times": 2,
        "gigafactor*": 2, "production": 1, "capacity": 1,
    },
    _C.CUSTOMERS: {
        "customer*": 2, "concentration": 2, "distributor*": 2, "partners": 1, "user*": 2,
        "advertis*": 2, "marketers": 3, "engagement": 2, "demand": 1, "consumers": 1,
        "limited number of": 2,
    },
    _C.CYBERSECURITY: {
        "cyber*": 3, "security breach*": 3, "breach*": 2, "hack*": 3, "phishing": 3, "ransomware": 3,
        "malware": 3, "unauthorized access": 3, "security incidents": 3, "attacks": 1,
        "vulnerabilit*": 2, "security": 1,
    },
    _C.PRIVACY: {
        "privacy": 3, "data privacy": 3, "personal data": 3, "personal information": 3,
        "data protection": 3, "gdpr": 3,
        "ccpa": 3, "user data": 2, "data signals": 2, "consent": 1, "data": 1,
    },
    _C.IT_CONTINUITY: {
        "information technology": 3, "information systems": 3, "systems": 1, "outage*": 3,
        "business disruptions": 3, "business continuity": 3, "natural disasters": 2,
        "catastrophic events": 3, "infrastructure": 2, "data centers": 2, "interruption*": 2,
        "earthquake*": 2, "disruption*": 1, "erp": 2,
    },
    _C.LITIGATION: {
        "litigation": 3, "lawsuit*": 3, "class action": 3, "legal proceedings": 3, "claims": 1,
        "plaintiff*": 2, "product liability": 3, "settlement*": 1, "court*": 1, "judgment*": 1,
        "investigations": 1,
    },
    _C.REGULATION: {
        "regulat*": 2, "laws": 2, "rules": 1, "government": 1, "governmental": 1, "compliance": 1,
        "legislation": 2, "agencies": 1, "enforcement": 1, "incentives": 2, "antitrust": 2,
        "consent order": 2, "licenses": 1, "permits": 1, "competition laws": 2,
    },
    _C.INTELLECTUAL_PROPERTY: {
        "intellectual property": 3, "patent*": 3, "trademark*": 3, "copyright*": 3, "trade secrets": 3,
        "ip": 2, "proprietary": 1, "infringement": 2,
    },
    _C.HUMAN_CAPITAL: {
        "employee*": 2, "personnel": 3, "key employees": 3, "talent": 2, "executives": 2,
        "workforce": 3, "labor": 2, "union*": 2, "hire": 1, "hiring": 1, "retain": 1, "attract": 1,
        "chief executive officer": 2, "management team": 2,
    },
    _C.CAPITAL_LIQUIDITY: {
        "indebtedness": 3, "debt": 2, "credit": 1, "financing": 2, "liquidity": 3, "cash flow*": 2,
        "capital": 1, "convertible": 2, "notes": 1, "covenant*": 2, "borrow*": 2, "additional funds": 3,
        "capital expenditures": 2, "goodwill": 3, "impair*": 2, "expenses": 1, "insurance": 1,
        "residual value": 2,
    },
    _C.MARKET_RISK: {
        "exchange rates": 3, "currenc*": 3, "foreign currency": 3, "interest rates": 3,
        "commodity prices": 3, "hedg*": 2,
    },
    _C.TAX: {
        "tax*": 3, "effective tax rate": 3,
    },
    _C.MERGERS_ACQUISITIONS: {
        "acquisition*": 3, "acquire": 1, "acquired": 1, "merger*": 2, "strategic transactions": 3,
        "integrat*": 1, "divest*": 2, "joint venture*": 2, "business investments": 3,
    },
    _C.CLIMATE_ESG: {
        "climate": 3, "esg": 3, "sustainab*": 3, "environmental": 1, "greenhouse": 3, "emission*": 2,
        "carbon": 2, "corporate responsibility": 3, "responsible use": 2, "social": 1,
    },
    _C.PANDEMIC_HEALTH: {
        "pandemic*": 3, "covid": 3, "epidemic*": 3, "public health": 3, "outbreak*": 2, "virus*": 2,
        "health": 1,
    },
    _C.STOCK_GOVERNANCE: {
        "stock price": 3, "common stock": 3, "trading price": 3, "stockholder*": 2, "shareholder*": 1,
        "dual class": 3, "voting": 2, "voting power": 3, "takeover": 3, "anti takeover": 3,
        "delaware law": 3, "certificate of incorporation": 3, "bylaws": 3, "dividend*": 3,
        "share repurchase": 3, "controlled company": 3, "guidance": 2, "securities analysts": 3,
        "change in control": 3, "pledged": 2, "operating results": 1, "fluctuate": 1, "quarter": 1,
    },
}
# fmt: on


def _compile() -> tuple[
    dict[tuple[str, ...], tuple[tuple[int, float], ...]], dict[str, tuple[tuple[int, float], ...]]
]:
    exact: dict[tuple[str, ...], list[tuple[int, float]]] = {}
    prefixes: dict[str, list[tuple[int, float]]] = {}
    order = list(RiskCategory)
    for category, terms in RULES.items():
        index = order.index(category)
        for term, weight in terms.items():
            if term.endswith("*"):
                prefixes.setdefault(term[:-1], []).append((index, float(weight)))
            else:
                exact.setdefault(tuple(term.split()), []).append((index, float(weight)))
    return (
        {key: tuple(value) for key, value in exact.items()},
        {key: tuple(value) for key, value in prefixes.items()},
    )


_EXACT, _PREFIXES = _compile()
# Phrase rules by their first word, each with the set of its other words.
_PHRASES: dict[str, tuple[tuple[tuple[str, ...], frozenset[str]], ...]] = {}
for _key in _EXACT:
    if len(_key) > 1:
        _PHRASES[_key[0]] = (*_PHRASES.get(_key[0], ()), (_key, frozenset(_key[1:])))
_PHRASE_STARTS = frozenset(_PHRASES)
_MAX_PHRASE = max(len(key) for key in _EXACT)
_CATEGORIES = tuple(RiskCategory)
_Hits = tuple[tuple[int, float], ...]
# The words looked up so far and, for those with single-word rule hits, the hits; shared by
# every factor of every run. The vocabulary of 10-Ks is a few tens of thousands of words;
# the bound only guards against abuse.
_SEEN: set[str] = set()
_HITS: dict[str, _Hits] = {}
_MAX_CACHED_WORDS = 1 << 17


def _word_hits(word: str) -> _Hits:
    """Single-word rule hits: the exact entry, or else the longest matching prefix entry."""
    exact = _EXACT.get((word,))
    if exact:
        return exact
    for end in range(len(word), 2, -1):
        hits = _PREFIXES.get(word[:end])
        if hits:
            return hits
    return ()


def _hit_words(counted: Counter[str]) -> set[str]:
    """The words of ``counted`` with single-word rule hits (keys of ``_HITS``).

    Set operations on the distinct words run in C; a Python step is taken only for a word
    never seen before and for each word with a rule.
    """
    words = counted.keys()
    if not words <= _SEEN:
        if len(_SEEN) + len(words) > _MAX_CACHED_WORDS:
            _SEEN.clear()
            _HITS.clear()
        for word in [w for w in words if w not in _SEEN]:
            _SEEN.add(word)
            hits = _word_hits(word)
            if hits:
                _HITS[word] = hits
    return words & _HITS.keys()


def _phrase_counts(tokens: list[str], counted: Counter[str]) -> list[tuple[tuple[str, ...], int]]:
    """The phrase rules found in ``tokens`` and how often each occurs.

    Only phrases whose words all occur are searched for, as `` first second `` in the
    space-joined tokens (tokens hold no spaces, so a match is a run of whole tokens).
    """
    words = counted.keys()
    wanted = [phrase for first in words & _PHRASE_STARTS for phrase, rest in _PHRASES[first] if words >= rest]
    if not wanted:
        return []
    text = f" {' '.join(tokens)} "
    found: list[tuple[tuple[str, ...], int]] = []
    for phrase in wanted:
        needle = f" {' '.join(phrase)} "
        # Step one character on, not past the match: repeats sharing a space all count.
        n, at = 0, text.find(needle)
        while at >= 0:
            n += 1
            at = text.find(needle, at + 1)
        if n:
            found.append((phrase, n))
    return found


def _term_counts(tokens: list[str], counted: Counter[str] | None = None) -> dict[tuple[int, float, str], int]:
    """How often each (category, weight, term) rule fires in ``tokens``.

    ``counted`` is ``Counter(tokens)`` when the caller has it already.
    """
    if counted is None:
        counted = Counter(tokens)
    counts: dict[tuple[int, float, str], int] = {}
    for word in _hit_words(counted):
        n = counted[word]
        for index, weight in _HITS[word]:
            counts[(index, weight, word)] = n
    for phrase, n in _phrase_counts(tokens, counted):
        for index, weight in _EXACT[phrase]:
            counts[(index, weight, " ".join(phrase))] = n
    return counts


def classify(
    heading_tokens: list[str],
    body_tokens: list[str],
    counts: tuple[Counter[str], Counter[str]] | None = None,
) -> RiskCategory:
    """The category of a factor, from its heading and body word tokens (rules above).

    ``counts`` optionally holds ``Counter(heading_tokens)`` and ``Counter(body_tokens)``.
    """
    heading_counts, body_counts = counts if counts is not None else (None, None)
    scores = [0.0] * len(_CATEGORIES)
    for (index, weight, _term), n in _term_counts(heading_tokens, heading_counts).items():
        scores[index] += HEADING_WEIGHT * weight * n
    for (index, weight, _term), n in _term_counts(body_tokens, body_counts).items():
        scores[index] += weight * min(n, BODY_CAP)
    best = scores.index(max(scores))  # ties go to the category listed first
    return _CATEGORIES[best] if scores[best] >= MIN_SCORE else RiskCategory.OTHER


def harmonise_categories(
    old: list[RiskFactor],
    new: list[RiskFactor],
    old_texts: Sequence[FactorText],
    new_texts: Sequence[FactorText],
    matching: Matching,
) -> tuple[list[RiskFactor], list[RiskFactor]]:
    """Give factors matched across the years one category, classified on all their text.

    Categories come from keyword rules, so rewording can move a factor that stays the same
    risk (NVIDIA's export-control factor reads as "regulation" one year and "geopolitical &
    trade" the next); the heatmap would show that as thousands of words leaving one category
    for another. Matched factors (pairs, splits, merges, linked transitively) are classified
    once on their headings and bodies from both years together.
    """
    parent = list(range(len(old) + len(new)))  # old factors first, then new ones

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def link(i: int, j: int) -> None:
        parent[root(len(old) + j)] = root(i)

    for i, j in matching.pairs:
        link(i, j)
    for i, pieces in matching.splits:
        for j in pieces:
            link(i, j)
    for parts, j in matching.merges:
        for i in parts:
            link(i, j)
    groups: dict[int, list[int]] = {}
    for node in range(len(parent)):
        groups.setdefault(root(node), []).append(node)
    factors = [*old, *new]
    texts = [*old_texts, *new_texts]
    for members in groups.values():
        if len({factors[m].category for m in members}) < 2:
            continue
        heading = [token for m in members for token in texts[m].heading]
        body = [token for m in members for token in texts[m].body]
        category = classify(heading, body)
        for m in members:
            factors[m] = factors[m].model_copy(update={"category": category})
    return factors[: len(old)], factors[len(old) :]
