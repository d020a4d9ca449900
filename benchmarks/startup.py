"""Start-up wall time of `fipswizard --help` and `fipswizard plan --offline`, installed.

Goal: each at most 1.3 times `python -c "import httpx"` (the floor any httpx tool pays).
Measured as an operator runs it: the project is installed (a wheel-style, non-editable
install) into a fresh virtual environment that sees the system's site-packages for the
dependencies, and the `fipswizard` entry point of that environment is timed, from a directory
outside the source tree, so nothing is imported from it. All figures come from this one run:
medians of RUNS runs of each command, interleaved so load on the machine hits all alike.
Run: python benchmarks/startup.py   (needs pip; installs offline, no build isolation)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

RUNS = 21
ROOT = Path(__file__).resolve().parent.parent
RECIPE = """version = 1
guest = "none"
[[target]]
subscription = "11111111-2222-3333-4444-555555555555"
resource_group = "rg"
vm = "vm1"
"""


def install(where: Path) -> tuple[Path, Path]:
    """A virtual environment with fipswizard installed in it: (its python, its fipswizard)."""
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(where)
    python, script = where / "bin" / "python", where / "bin" / "fipswizard"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-build-isolation", "--no-index", str(ROOT)],
        check=True,
        cwd=where,
    )  # fmt: skip
    return python, script


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        python, script = install(work / "venv")
        recipe, auto = work / "r.toml", work / "auto.toml"
        recipe.write_text(RECIPE)
        auto.write_text(RECIPE.replace('guest = "none"', 'guest = "auto"'))  # with the guest probe
        commands = {
            "python -c 'import httpx'": [str(python), "-c", "import httpx"],
            "fipswizard --help": [str(script), "--help"],
            "fipswizard plan --offline": [str(script), "plan", str(recipe), "--offline"],
            "  the same, guest = auto": [str(script), "plan", str(auto), "--offline"],
        }
        where = subprocess.run(
            [str(python), "-c", "import fipswizard; print(fipswizard.__file__)"],
            cwd=work,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for argv in commands.values():  # warm the page cache and .pyc files first
            timed(argv, work)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(RUNS):
            for name, argv in commands.items():
                times[name].append(timed(argv, work))
    base = statistics.median(times["python -c 'import httpx'"])
    print(f"fipswizard imported from {where}")
    print(f"median of {RUNS} runs each (goal: ratio <= 1.30)")
    for name, secs in times.items():
        med = statistics.median(secs)
        print(f"  {name:<28} {med * 1000:7.1f} ms   ratio {med / base:4.2f}")


if __name__ == "__main__":
    main()
