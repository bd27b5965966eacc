"""The README documents every setting, metric and event, and gives the two commands CI runs."""

from __future__ import annotations

from pathlib import Path

from acquire import metrics
from acquire.models import EventType
from acquire.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in README]
    assert missing == []


def test_every_metric_and_event_is_documented() -> None:
    names = {m.name for m in metrics.REGISTRY.collect()}
    assert {n for n in names if f"`{n}" not in README} == set()
    assert [e.value for e in EventType if f"`{e.value}`" not in README] == []


def test_ci_runs_the_readme_test_command() -> None:
    command = "pip install -e '.[dev]' && python -m pytest"
    assert command in README
    assert command in (ROOT / ".ci/run").read_text()
    assert "pip install -e '.[demo]' && acquire demo --once" in README
