"""The layers are checked declaratively (import-linter contracts in pyproject.toml), and the
check is shown to fail on each kind of violation it exists to catch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LINT = (
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())"
)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_its_layers() -> None:
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("fipswizard/engine/run.py", "import screens.app", "neither front end"),
        ("fipswizard/azure/arm.py", "import fipswizard.headless.cli", "neither front end"),
        ("fipswizard/engine/plan.py", "import textual.app", "neither front end"),
        ("screens/run.py", "import fipswizard.headless.commands", "does not import the headless"),
    ],
)
def test_a_violation_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    for name in ("fipswizard", "screens", "recipes"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    out = lint_imports(tmp_path)
    assert out.returncode != 0, out.stdout
    assert "0 broken" not in out.stdout and contract in out.stdout, out.stdout
