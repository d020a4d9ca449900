"""Start-up wall time of `fipswizard --help` and `fipswizard plan --offline`.

Goal: each at most 1.3 times `python -c "import httpx"` (the floor any httpx tool pays).
Prints the median of N runs of each command and the ratio. Run: python benchmarks/startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 15
RECIPE = """version = 1
guest = "none"
[[target]]
subscription = "11111111-2222-3333-4444-555555555555"
resource_group = "rg"
vm = "vm1"
"""


def median_seconds(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "r.toml"
        recipe.write_text(RECIPE)
        py = sys.executable
        base = median_seconds([py, "-c", "import httpx"])
        rows = [
            ("python -c 'import httpx'", base),
            ("fipswizard --help", median_seconds([py, "-m", "fipswizard", "--help"])),
            (
                "fipswizard plan --offline",
                median_seconds([py, "-m", "fipswizard", "plan", str(recipe), "--offline"]),
            ),
        ]
    print(f"median of {RUNS} runs each (goal: ratio <= 1.30)")
    for name, secs in rows:
        print(f"  {name:<28} {secs * 1000:7.1f} ms   ratio {secs / base:4.2f}")


if __name__ == "__main__":
    main()
