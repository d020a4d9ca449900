"""House style is checked: ruff check and format everywhere, mypy --strict (sandbox included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff() -> None:
    out = run("ruff", "check", "fipswizard", "screens", "tests", "benchmarks")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format() -> None:
    out = run("ruff", "format", "--check", "fipswizard", "screens", "tests", "benchmarks")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict() -> None:
    for target in ("fipswizard", "screens"):
        out = run("mypy", target)
        assert out.returncode == 0, out.stdout + out.stderr
