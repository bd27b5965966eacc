"""Reports are byte-for-byte reproducible: across runs, processes and hash seeds."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from acquire.analysis import RiskDriftReport, SummaryRewriter, analyze_risk_drift
from tests.analysis.helpers import load

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import hashlib, sys
from tests.analysis.helpers import load
from acquire.analysis import analyze_risk_drift
report = analyze_risk_drift(load("meta_fy2023"), load("meta_fy2024"))
sys.stdout.write(hashlib.sha256(report.model_dump_json().encode()).hexdigest())
"""


def test_same_bytes_twice_in_process() -> None:
    first = analyze_risk_drift(load("meta_fy2023"), load("meta_fy2024")).model_dump_json()
    second = analyze_risk_drift(load("meta_fy2023"), load("meta_fy2024")).model_dump_json()
    assert first == second
    assert '"rewritten_summary":null' in first


def test_same_bytes_in_subprocesses_with_different_hash_seeds() -> None:
    expected = hashlib.sha256(
        analyze_risk_drift(load("meta_fy2023"), load("meta_fy2024")).model_dump_json().encode()
    ).hexdigest()
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout == expected, f"PYTHONHASHSEED={seed}"


def test_round_trip_and_summary_content() -> None:
    report = analyze_risk_drift(load("tsla_fy2023"), load("tsla_fy2024"))
    assert RiskDriftReport.model_validate_json(report.model_dump_json()) == report
    assert report.executive_summary.startswith("Item 1A went from 40 risk factors")
    assert "Section similarity: cosine" in report.executive_summary
    assert report.recommendations


class _Echo:
    def __init__(self) -> None:
        self.seen: list[RiskDriftReport] = []

    def rewrite(self, report: RiskDriftReport) -> str:
        self.seen.append(report)
        return f"{report.counts['modified']} factors were edited."


def test_summary_rewriter_hook() -> None:
    echo = _Echo()
    assert isinstance(echo, SummaryRewriter)
    plain = analyze_risk_drift(load("tsla_fy2023"), load("tsla_fy2024"))
    report = analyze_risk_drift(load("tsla_fy2023"), load("tsla_fy2024"), rewriter=echo)
    assert report.rewritten_summary == f"{plain.counts['modified']} factors were edited."
    assert report.executive_summary == plain.executive_summary
    assert echo.seen[0].rewritten_summary is None
