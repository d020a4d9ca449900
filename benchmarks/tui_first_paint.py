"""Time from process start to the first painted screen of the TUI (goal: at most 0.6 s).

Starts `python -m fipswizard demo` (and `python -m fipswizard`, the wizard against Azure)
on a pseudo-terminal with FIPSWIZARD_EXIT_AFTER_FIRST_PAINT=<file>: the app writes the time
of its first paint there and exits. Prints the median of N runs of each.
Run: python benchmarks/tui_first_paint.py [--runs 11]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

GOAL = 0.6
ROOT = Path(__file__).resolve().parents[1]


def first_paint_seconds(args: list[str], workdir: Path) -> float:
    """One run on a 100x32 pseudo-terminal: seconds from spawn to the first paint."""
    stamp = workdir / "painted"
    stamp.unlink(missing_ok=True)
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 32, 100, 0, 0))
    env = {
        **os.environ,
        "FIPSWIZARD_EXIT_AFTER_FIRST_PAINT": str(stamp),
        "TERM": "xterm-256color",
        "XDG_STATE_HOME": str(workdir),
    }
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fipswizard", *args],
        cwd=ROOT,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    try:
        while proc.poll() is None:  # drain the terminal so the app never blocks writing
            ready, _, _ = select.select([primary], [], [], 0.05)
            if ready:
                try:
                    os.read(primary, 65536)
                except OSError:
                    break
        proc.wait(timeout=30)
    finally:
        os.close(primary)
    if not stamp.exists():
        raise SystemExit(f"fipswizard {' '.join(args)} exited {proc.returncode} before painting")
    return float(stamp.read_text()) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for label, args in (("fipswizard demo", ["demo"]), ("fipswizard", [])):
            first_paint_seconds(args, Path(tmp))  # warm the file cache: later runs compare
            times = [first_paint_seconds(args, Path(tmp)) for _ in range(runs)]
            rows.append((label, statistics.median(times), min(times), max(times)))
    print(f"time to first paint, median of {runs} runs (goal: <= {GOAL:.1f} s)")
    for label, median, low, high in rows:
        verdict = "ok" if median <= GOAL else "SLOWER THAN GOAL"
        print(f"  {label:<16} {median:.3f} s  (min {low:.3f}, max {high:.3f})  {verdict}")


if __name__ == "__main__":
    main()
