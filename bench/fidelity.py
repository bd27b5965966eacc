"""Risk-factor segmentation fidelity over the 10-K layout corpus (tests/fixtures/sec/corpus).

    python bench/fidelity.py [--verbose]

For every corpus document it extracts Item 1A, splits it into risk factors and compares the
factor headings with the hand-established list of the manifest: headings found, expected and
matched (equal word tokens, one-to-one; a heading the manifest cut at ~200 characters
matches a found heading starting with it), exact count yes/no, coverage (the segmentation
record's: share of the words from the first factor heading on inside factors), in_factors
(share of all the section's words inside factors, the preamble counting against), the number
of segmentation warnings and the seconds taken (extraction + segmentation, one run). Documents
without a list (the cross-reference-index filing, the plain-text Item 1A files) report
whether Item 1A was found, the factor count and the coverage. Totals are micro-averaged:
precision = matched / found and recall = matched / expected over all labelled documents.
Prints one line per document on stderr and one final JSON line on stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

from acquire.analysis import (
    Item1ANotFoundError,
    RiskFactor,
    Segmentation,
    extract_item1a,
    segment_risk_factors,
)
from acquire.analysis.text import normalised_text

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "sec" / "corpus"
_CUT = 200


def _same(found: str, expected: str) -> bool:
    # The manifest cuts headings longer than ~200 characters (at 211 or 220), and lists only
    # the first part of a heading split by a page break (it ends in a comma): such a heading
    # matches a found heading that starts with it.
    have, want = normalised_text(found), normalised_text(expected)
    cut = len(expected) >= _CUT or expected.rstrip().endswith((",", ";"))
    return have == want or (cut and have.startswith(want))


def _matched(found: list[str], expected: list[str]) -> tuple[int, list[str], list[str]]:
    """One-to-one matches in document order; the unmatched found and expected headings."""
    missing = list(expected)
    extra: list[str] = []
    for heading in found:
        hit = next((i for i, want in enumerate(missing) if _same(heading, want)), -1)
        if hit >= 0:
            missing.pop(hit)
        else:
            extra.append(heading)
    return len(found) - len(extra), extra, missing


def _measure(document: str | bytes) -> tuple[list[RiskFactor], Segmentation, float]:
    start = time.perf_counter()
    split = segment_risk_factors(extract_item1a(document))
    return split.factors, split.segmentation, time.perf_counter() - start


def _figures(factors: list[RiskFactor], record: Segmentation, seconds: float) -> dict[str, Any]:
    share = (record.words - record.preamble_words) / record.words if record.words else 0.0
    return {
        "item1a_found": True,
        "factors": len(factors),
        "coverage": record.coverage,
        "in_factors": round(share * record.coverage, 4),
        "warnings": len(record.warnings),
        "seconds": round(seconds, 4),
    }


def _html_row(entry: dict[str, Any], verbose: bool) -> dict[str, Any]:
    raw = gzip.decompress((CORPUS / entry["file"]).read_bytes())
    row: dict[str, Any] = {"id": entry["id"], "layout": entry["item1a"]}
    try:
        factors, record, seconds = _measure(raw)
    except Item1ANotFoundError as exc:
        row.update(item1a_found=False, error=str(exc))
        return row
    row.update(_figures(factors, record, seconds))
    expected = entry.get("headings")
    if expected:
        matched, extra, missing = _matched([f.heading for f in factors], expected)
        row.update(expected=len(expected), matched=matched, exact=len(factors) == len(expected))
        if verbose:
            row.update(extra=extra, missing=missing)
    return row


def _text_row(entry: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(gzip.decompress((CORPUS / entry["file"]).read_bytes()))
    row: dict[str, Any] = {"id": Path(entry["file"]).name.split(".")[0], "layout": "plain_text"}
    try:
        factors, record, seconds = _measure(data["item_1A"])
    except Item1ANotFoundError as exc:
        row.update(item1a_found=False, error=str(exc))
        return row
    row.update(_figures(factors, record, seconds))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list unmatched headings per document")
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    rows = [_html_row(entry, args.verbose) for entry in manifest["documents"]]
    rows += [_text_row(entry) for entry in manifest["plain_text"]]
    for row in rows:
        print(json.dumps(row, sort_keys=True), file=sys.stderr)
    seconds = sorted(r["seconds"] for r in rows if r.get("item1a_found"))

    labelled = [r for r in rows if "expected" in r]
    found = sum(r["factors"] for r in labelled)
    expected = sum(r["expected"] for r in labelled)
    matched = sum(r["matched"] for r in labelled)
    located = [r for r in rows if r.get("item1a_found")]
    result = {
        "bench": "fidelity",
        "documents": len(rows),
        "labelled": len(labelled),
        "item1a_found": len(located),
        "found": found,
        "expected": expected,
        "matched": matched,
        "precision": round(matched / found, 4) if found else 0.0,
        "recall": round(matched / expected, 4) if expected else 0.0,
        "exact_docs": sum(r["exact"] for r in labelled),
        "min_coverage": min((r["coverage"] for r in located), default=0.0),
        "min_in_factors": min((r["in_factors"] for r in located), default=0.0),
        "max_seconds_per_doc": seconds[-1] if seconds else 0.0,
        "median_seconds_per_doc": seconds[len(seconds) // 2] if seconds else 0.0,
        "target": {"precision": 0.98, "recall": 0.98, "exact_docs": 10, "min_coverage": 0.97},
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
