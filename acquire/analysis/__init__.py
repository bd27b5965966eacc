"""Risk-factor drift between two 10-K filings: pure, synchronous and deterministic.

Typical use::

    from acquire.analysis import analyze_risk_drift

    report = analyze_risk_drift(previous_html, current_html)
    report.counts["new"], report.section_similarity.cosine, report.executive_summary

Pipeline: :func:`extract_item1a` locates Item 1A; :func:`split_risk_factors` cuts it into
factors, each classified (:mod:`~acquire.analysis.taxonomy`) and toned
(:mod:`~acquire.analysis.lexicon`); :func:`match_factors` pairs factors across years, and
matched factors get one category, classified on both years' text;
:mod:`~acquire.analysis.similarity` provides the four "Lazy Prices" measures; and
:mod:`~acquire.analysis.report` derives the heatmap, summary and recommendations. No network,
no model, no clock: an optional :class:`SummaryRewriter` is the only hook for an LLM.
"""

from __future__ import annotations

from acquire.analysis.drift import analyze_risk_drift, analyze_sections
from acquire.analysis.factors import SegmentedSection, segment_risk_factors, split_risk_factors
from acquire.analysis.item1a import Item1ANotFoundError, Item1ASection, extract_item1a
from acquire.analysis.lexicon import Lexicon, default_lexicon, load_lm_master_dictionary, score_tone
from acquire.analysis.matching import FactorText, Matching, match_factors
from acquire.analysis.models import (
    CategoryDrift,
    ChangeStatus,
    FactorChange,
    HeatmapCell,
    RiskCategory,
    RiskDriftReport,
    RiskFactor,
    SectionStats,
    Segmentation,
    SimilarityScores,
    ToneScores,
)
from acquire.analysis.report import SummaryRewriter
from acquire.analysis.similarity import similarity
from acquire.analysis.taxonomy import classify

__all__ = [
    "CategoryDrift",
    "ChangeStatus",
    "FactorChange",
    "FactorText",
    "HeatmapCell",
    "Item1ANotFoundError",
    "Item1ASection",
    "Lexicon",
    "Matching",
    "RiskCategory",
    "RiskDriftReport",
    "RiskFactor",
    "SectionStats",
    "Segmentation",
    "SegmentedSection",
    "SimilarityScores",
    "SummaryRewriter",
    "ToneScores",
    "analyze_risk_drift",
    "analyze_sections",
    "classify",
    "default_lexicon",
    "extract_item1a",
    "load_lm_master_dictionary",
    "match_factors",
    "score_tone",
    "segment_risk_factors",
    "similarity",
    "split_risk_factors",
]
