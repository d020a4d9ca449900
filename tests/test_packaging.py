"""The wheel carries the data: recipes (guest, regions) and the TUI's stylesheets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


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
            str(ROOT),
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
    assert any(n.startswith("fipswizard/sandbox/") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(entry).decode()
    assert "fipswizard = fipswizard.headless.cli:main" in entry_points
