"""Public result types of the risk-drift analysis (pydantic v2, frozen, JSON-stable).

Floats are rounded to 6 decimals where they are computed and every list has a documented,
stable order, so ``RiskDriftReport.model_dump_json()`` is byte-identical across runs,
processes and hash seeds.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CategoryDrift",
    "ChangeStatus",
    "ExtractionMethod",
    "FactorChange",
    "HeatmapCell",
    "RiskCategory",
    "RiskDriftReport",
    "RiskFactor",
    "SectionStats",
    "Segmentation",
    "SegmentationMethod",
    "SimilarityScores",
    "ToneScores",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")

ExtractionMethod = Literal["toc-anchor", "heading", "title-heading", "plain-text"]
"""How Item 1A was located: TOC anchor links, an "Item 1A" heading, a plain "Risk Factors"
heading (10-Ks with a cross-reference index), or an "Item 1A" line of plain text."""

SegmentationMethod = Literal["html-styles", "layout", "plain-text"]
"""How Item 1A was cut into factors: by the headings' typography, by layout alone (HTML
without usable emphasis), or by the layout of plain text."""


class RiskCategory(StrEnum):
    """The risk taxonomy; see :mod:`acquire.analysis.taxonomy` for the keyword rules."""

    MACROECONOMIC = "macroeconomic"
    GEOPOLITICAL_TRADE = "geopolitical_trade"
    COMPETITION = "competition"
    PRODUCTS_TECHNOLOGY = "products_technology"
    SUPPLY_CHAIN = "supply_chain"
    CUSTOMERS = "customers"
    CYBERSECURITY = "cybersecurity"
    PRIVACY = "privacy"
    IT_CONTINUITY = "it_continuity"
    LITIGATION = "litigation"
    REGULATION = "regulation"
    INTELLECTUAL_PROPERTY = "intellectual_property"
    HUMAN_CAPITAL = "human_capital"
    CAPITAL_LIQUIDITY = "capital_liquidity"
    MARKET_RISK = "market_risk"
    TAX = "tax"
    MERGERS_ACQUISITIONS = "mergers_acquisitions"
    CLIMATE_ESG = "climate_esg"
    PANDEMIC_HEALTH = "pandemic_health"
    STOCK_GOVERNANCE = "stock_governance"
    OTHER = "other"


class ChangeStatus(StrEnum):
    """How a risk factor changed between the two years."""

    UNCHANGED = "unchanged"
    MODIFIED = "modified"
    NEW = "new"
    REMOVED = "removed"
    SPLIT = "split"
    MERGED = "merged"


class ToneScores(BaseModel):
    """Loughran-McDonald style tone of a text.

    Each proportion is (words of the class) / (all words), the proportional weighting of
    Loughran and McDonald (2011). ``net_tone`` is (positive - negative) / (positive + negative),
    in [-1, 1], and 0 when the text has neither.
    """

    model_config = _FROZEN

    words: int
    negative: float
    positive: float
    uncertainty: float
    litigious: float
    strong_modal: float
    weak_modal: float
    constraining: float
    net_tone: float


class SimilarityScores(BaseModel):
    """The four similarity measures of Cohen, Malloy and Nguyen (2020), each in [0, 1].

    Definitions are in :mod:`acquire.analysis.similarity`; 1.0 means identical word sequences.
    """

    model_config = _FROZEN

    cosine: float
    jaccard: float
    edit: float
    simple: float


class RiskFactor(BaseModel):
    """One risk factor of one year's Item 1A, with its category and tone."""

    model_config = _FROZEN

    position: int = Field(description="0-based order within the section")
    heading: str
    body: str
    group: str | None = Field(description='the caption it sits under, e.g. "Risks Related to Our Industry"')
    words: int = Field(description="word count of heading and body")
    category: RiskCategory
    tone: ToneScores


class FactorChange(BaseModel):
    """One entry of the cross-year comparison.

    ``previous``/``current`` hold factor positions: one each for unchanged/modified, none on
    one side for new/removed, one old and several new for a split, several old and one new
    for a merge. Similarity compares the old text with the new text (concatenated for splits
    and merges); ``added_sentences``/``removed_sentences`` list, in document order, sentences
    present on only one side.
    """

    model_config = _FROZEN

    status: ChangeStatus
    previous: list[int]
    current: list[int]
    heading: str
    category: RiskCategory
    match_score: float | None = None
    similarity: SimilarityScores | None = None
    added_sentences: list[str] = Field(default_factory=list)
    removed_sentences: list[str] = Field(default_factory=list)
    net_tone_change: float | None = None


class Segmentation(BaseModel):
    """How one year's Item 1A was cut into factors, and how far to trust it.

    ``preamble_words`` are the words before the first factor heading (an introduction, a
    risk-factor summary). ``coverage`` is the share of the other words, from the first
    heading on, that are inside factors (headings and bodies); only category captions are
    outside, so anything well below 1 means text was lost. With no factors it is 0.
    ``warnings`` name what makes the split doubtful (no factors, coverage below 0.9, a
    preamble holding most of the section, few factors for the section's length, a very
    short section); an empty list means none of these checks fired.
    """

    model_config = _FROZEN

    method: SegmentationMethod
    heading_style: str = Field(description='the typography taken for headings, e.g. "bold italic"')
    factors: int
    words: int = Field(description="words of the section")
    preamble_words: int
    coverage: float
    warnings: list[str]


class SectionStats(BaseModel):
    """Whole-section figures for one year."""

    model_config = _FROZEN

    factors: int
    words: int
    groups: list[str]
    extraction: ExtractionMethod
    tone: ToneScores
    segmentation: Segmentation


class CategoryDrift(BaseModel):
    """Per-category figures for both years and their change (current - previous).

    ``drift`` is 1 - the diff-based "simple" similarity of the category's text in the two
    years (its factors concatenated in document order): the share of words added or deleted.
    0 means the same text; 1 means nothing in common, or the category exists in one year only.
    (1 - cosine would hardly move: term-frequency vectors of long risk texts are dominated by
    the same function words, so their cosine stays near 1 even after heavy rewriting.)
    """

    model_config = _FROZEN

    category: RiskCategory
    previous_count: int
    current_count: int
    count_change: int
    previous_words: int
    current_words: int
    words_change: int
    previous_net_tone: float
    current_net_tone: float
    net_tone_change: float
    previous_negative: float
    current_negative: float
    negative_change: float
    drift: float


class HeatmapCell(BaseModel):
    """One row of the heatmap: a category x metric with previous, current and change.

    For the ``drift`` metric previous and current are ``None``; the drift is the change.
    """

    model_config = _FROZEN

    category: RiskCategory
    metric: str
    previous: float | None
    current: float | None
    change: float


class RiskDriftReport(BaseModel):
    """The full, deterministic comparison of two years of Item 1A."""

    model_config = _FROZEN

    previous: SectionStats
    current: SectionStats
    section_similarity: SimilarityScores
    previous_factors: list[RiskFactor]
    current_factors: list[RiskFactor]
    changes: list[FactorChange] = Field(description="ordered by current position, removed ones last")
    counts: dict[str, int] = Field(description="number of changes per status, every status present")
    categories: list[CategoryDrift] = Field(description="taxonomy order; categories absent in both omitted")
    heatmap: list[HeatmapCell]
    executive_summary: str
    recommendations: list[str]
    rewritten_summary: str | None = Field(
        default=None, description="the SummaryRewriter's text, when one was supplied"
    )
