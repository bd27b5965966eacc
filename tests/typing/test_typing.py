"""The types acquire promises to user code, pinned: ``mypy --strict`` on tests/typing/user_code.py."""

from __future__ import annotations

import sys
from pathlib import Path

from mypy import api

USER_CODE = Path(__file__).with_name("user_code.py")
ROOT = Path(__file__).resolve().parents[2]


def test_user_code_type_checks_with_the_promised_types() -> None:
    # mypy raises the interpreter's recursion limit for itself; later tests in this process
    # (the router's "nested too deeply" answer) rely on the default one.
    limit = sys.getrecursionlimit()
    try:
        out, err, status = _mypy()
    finally:
        sys.setrecursionlimit(limit)
    # assert_type mismatches, rejected lines that became accepted (unused ignores), any error
    assert status == 0 and not out.strip(), out + err


def _mypy() -> tuple[str, str, int]:
    return api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--warn-unused-ignores",
            "--no-error-summary",
            str(USER_CODE),
        ]
    )
