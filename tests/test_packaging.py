"""The wheel carries the data: recipes (guest, regions) and the TUI's stylesheets."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def clean_copy(dest: Path) -> Path:
    """The tree as a fresh clone has it: an editable install's *.egg-info (its SOURCES.txt) or
    an old build/ would hide a package missing from pyproject's list."""
    skip = shutil.ignore_patterns("*.egg-info", "build", "dist", ".*", "__pycache__")
    shutil.copytree(ROOT, dest, ignore=skip)
    return dest


def test_wheel_includes_recipes_and_styles(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(clean_copy(tmp_path / "src")),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("fipswizard-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    guest = {p.name for p in (ROOT / "recipes" / "guest").iterdir() if p.is_file()}
    for name in guest:
        assert f"fipswizard_recipes/guest/{name}" in names
    assert "fipswizard_recipes/regions.toml" in names
    assert {f"screens/{p.name}" for p in (ROOT / "screens").glob("*.tcss")} <= names
    # every module of the source tree is in the wheel (a package missing from pyproject's list
    # installs fine and fails only when a non-editable install imports it)
    sources = {
        str(p.relative_to(ROOT))
        for top in ("fipswizard", "screens")
        for p in (ROOT / top).rglob("*.py")
    }
    assert sources <= names, sorted(sources - names)
    assert "fipswizard_recipes/cmvp.toml" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(entry).decode()
    assert "fipswizard = fipswizard.headless.cli:main" in entry_points
