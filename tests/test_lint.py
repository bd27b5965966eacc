"""ruff and mypy --strict are part of the test command: a lint or type error fails CI."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Everything checked, the library and all code around it (pyproject's ``[tool.mypy] files`` too).
TREES = ("acquire", "tests", "bench", "examples")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", *TREES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run("ruff", "format", "--check", *TREES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy", "--strict", *TREES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bare_mypy_checks_the_same_trees() -> None:
    # `mypy` without arguments (the contributor's command) reads its files from pyproject.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["mypy"]["files"] == list(TREES)
