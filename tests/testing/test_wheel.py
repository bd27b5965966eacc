"""The demo from a built wheel, installed into a fresh virtualenv outside the checkout.

What a new user does: ``pip install 'acquire[demo]'`` then ``acquire demo --once``. The wheel
is built from a copy of the package alone (no ``tests/`` beside it), its dependencies come
from the package index pip is configured with, and the demo runs from another directory
with nothing of the checkout on ``sys.path``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_WHEEL_BYTES = 10 * 1024 * 1024


def _run(
    *args: str | Path, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(a) for a in args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _build_wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    source = tmp_path / "source"
    shutil.copytree(ROOT / "acquire", source / "acquire", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        tmp_path / "dist",
        source,
        env=env,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("acquire-*.whl")
    return wheel


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    # Nothing of this checkout or its settings reaches the build, the install or the demo.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "REDIS_URL")
        and not k.startswith(("SEC_", "ACQUIRE_", "WORKER_", "YAHOO_", "WEBHOOK_"))
    }
    wheel = _build_wheel(tmp_path, env)
    size = wheel.stat().st_size
    assert size < MAX_WHEEL_BYTES
    names = zipfile.ZipFile(wheel).namelist()
    assert "acquire/testing/recordings/sec/www.sec.gov/files/company_tickers.json.gz" in names
    assert not [n for n in names if n.startswith("tests/")]
    # The README states the wheel's size; it must stay roughly true.
    stated = re.search(r"the wheel is about ([\d.]+) MB", (ROOT / "README.md").read_text())
    assert stated, "README.md says how large the wheel is"
    assert abs(float(stated.group(1)) * 1e6 - size) < 0.25 * size, (stated.group(0), size)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, timeout=120)
    python = venv / "bin" / "python"
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        f"{wheel}[demo]",
        env=env,
        timeout=600,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = _run(python, "-c", "import acquire; print(acquire.__file__)", cwd=elsewhere, env=env, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    demo = _run(
        venv / "bin" / "acquire", "demo", "--once", "--port", "0", cwd=elsewhere, env=env, timeout=300
    )
    for kind in ("sec_filings", "xbrl_facts", "yahoo", "risk_drift"):
        assert f"{kind}: completed" in demo.stdout
    assert "NVDA revenue: FY2024 60,922,000,000, FY2025 130,497,000,000" in demo.stdout
    assert "removed: Our indebtedness could adversely affect" in demo.stdout
