"""House style is checked, not hoped for: ruff everywhere, mypy --strict on both packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_ruff() -> None:
    out = run("ruff", "check", "fipswizard", "screens", "tests", "benchmarks")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict() -> None:
    for target in ("fipswizard", "screens"):
        out = run("mypy", target)
        assert out.returncode == 0, out.stdout + out.stderr
