"""The demo's recordings (package data, so a wheel has them) are the test fixtures' own bytes."""

from __future__ import annotations

from pathlib import Path

from acquire.testing.demo import recordings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_shipped_recordings_are_copies_of_the_fixtures() -> None:
    with recordings() as shipped:
        files = sorted(
            p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file() and p.suffix == ".gz"
        )
        stale = [p for p in files if (shipped / p).read_bytes() != (FIXTURES / p).read_bytes()]
        yahoo = {p.name for p in (shipped / "yahoo").iterdir()}
    fix = " && ".join(f"cp tests/fixtures/{p} acquire/testing/recordings/{p}" for p in stale)
    assert stale == [], f"the demo's recordings differ from tests/fixtures; to copy them again: {fix}"
    assert len(files) > 30
    # The replay server loads every Yahoo exchange of its folder: the demo has them all.
    assert yahoo == {p.name for p in (FIXTURES / "yahoo").iterdir()}
