"""Risk-drift analysis speed: the full analysis of each recorded 10-K pair.

    python bench/risk_drift.py [--runs 5]

For each pair (NVIDIA FY2024 vs FY2023, NVIDIA FY2025 vs FY2024, Tesla FY2024 vs FY2023,
Meta FY2024 vs FY2023, and the layout corpus's Boeing FY2024 vs FY2023) it times
``analyze_risk_drift`` on the raw document bytes (Item 1A extraction, factor splitting,
scoring, matching, similarity and report) in this one process,
one core, after one warm-up run, and reports the median. Decompressing the fixtures is not
timed. Peak RSS is the process maximum from ``resource.getrusage``. Prints one final JSON line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import statistics
import sys
import time
from pathlib import Path

from acquire.analysis import analyze_risk_drift

ROOT = Path(__file__).resolve().parent.parent
SEC = ROOT / "tests" / "fixtures" / "sec"
ARCHIVES = SEC / "www.sec.gov" / "Archives" / "edgar" / "data"

PAIRS: dict[str, tuple[Path, Path]] = {
    "nvda_fy2024_vs_fy2023": (
        ARCHIVES / "1045810/000104581023000017/nvda-20230129.htm.gz",
        ARCHIVES / "1045810/000104581024000029/nvda-20240128.htm.gz",
    ),
    "nvda_fy2025_vs_fy2024": (
        ARCHIVES / "1045810/000104581024000029/nvda-20240128.htm.gz",
        ARCHIVES / "1045810/000104581025000023/nvda-20250126.htm.gz",
    ),
    "tsla_fy2024_vs_fy2023": (
        ARCHIVES / "1318605/000162828024002390/tsla-20231231.htm.gz",
        ARCHIVES / "1318605/000162828025003063/tsla-20241231.htm.gz",
    ),
    "meta_fy2024_vs_fy2023": (
        ARCHIVES / "1326801/000132680124000012/meta-20231231.htm.gz",
        SEC / "unplaced" / "meta-20241231_10-K_FY2024_filed-2025-01-30.htm.gz",
    ),
    "ba_fy2024_vs_fy2023": (
        SEC / "corpus" / "html" / "BA-FY2023.html.gz",
        SEC / "corpus" / "html" / "BA-FY2024.html.gz",
    ),
}


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per pair (median reported)")
    args = parser.parse_args()

    seconds: dict[str, float] = {}
    factors: dict[str, list[int]] = {}
    for name, (previous_path, current_path) in PAIRS.items():
        previous = gzip.decompress(previous_path.read_bytes())
        current = gzip.decompress(current_path.read_bytes())
        report = analyze_risk_drift(previous, current)  # warm-up: imports, caches
        factors[name] = [report.previous.factors, report.current.factors]
        timings = []
        for _ in range(args.runs):
            start = time.perf_counter()
            analyze_risk_drift(previous, current)
            timings.append(time.perf_counter() - start)
        seconds[name] = round(statistics.median(timings), 4)
        note = f"{name}: {seconds[name]:.3f} s (median of {args.runs}), factors {factors[name]}"
        print(note, file=sys.stderr)

    result = {
        "bench": "risk_drift",
        "runs": args.runs,
        "seconds_per_pair": seconds,
        "max_seconds_per_pair": max(seconds.values()),
        "mean_seconds_per_pair": round(statistics.fmean(seconds.values()), 4),
        "factors": factors,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "target": {"seconds_per_pair": 0.25, "peak_rss_mb": 300},
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
