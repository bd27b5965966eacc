"""Without Chromium the browser tests say why they did not run; in CI that is a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import REQUIRE_ENV

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TEST = "tests/examples/test_dashboard_layout.py"


def _run_without_browser(tmp_path: Path, *, required: bool) -> subprocess.CompletedProcess[str]:
    """The browser test on this machine as if it had neither Chromium nor its driver."""
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_ENV}
    env.update(CHROMIUM=str(tmp_path / "no-such-chromium"), CHROMEDRIVER=str(tmp_path / "no-such-driver"))
    if required:
        env[REQUIRE_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", BROWSER_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )


@pytest.mark.timeout(240)  # a pytest run of its own
@pytest.mark.parametrize("required", [False, True], ids=["fresh-machine", "ci"])
def test_missing_browser_is_reported_with_the_reason(tmp_path: Path, required: bool) -> None:
    run = _run_without_browser(tmp_path, required=required)
    reason = (
        "browser tests not run: chromium and chromedriver not found "
        "(Debian/Ubuntu: apt-get install chromium chromium-driver)"
    )
    assert reason in run.stdout, run.stdout[-3000:]
    if required:
        assert run.returncode == 1 and "1 error" in run.stdout  # failed in its setup
        assert f"{REQUIRE_ENV} is set, so a missing browser is a failure" in run.stdout
    else:
        assert run.returncode == 0 and "1 skipped" in run.stdout and "SKIPPED [1]" in run.stdout
