"""`fipswizard demo` inside tmux, driven with keys as a person would, to the summary."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from fipswizard.demo_env import EXPECTED

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(
        shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"
    ),
]

ROOT = Path(__file__).parents[2]


class Pane:
    def __init__(self, session: str) -> None:
        self.session = session

    def text(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.session],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)

    def wait(self, needle: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if needle in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} never appeared; the pane shows:\n{self.text()}")


def test_demo_in_tmux_reaches_the_summary(tmp_path: Path) -> None:
    session = f"fw-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit-code"
    env = f"TMPDIR={shlex.quote(str(tmp_path))} XDG_STATE_HOME={shlex.quote(str(tmp_path))}"
    command = (
        f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.quote(sys.executable)} "
        f"-m fipswizard demo; echo $? > {shlex.quote(str(done))}; sleep 30"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "110", "-y", "34", command], check=True
    )
    pane = Pane(session)
    try:
        pane.wait(f"{len(EXPECTED)} VM(s) chosen")
        pane.send("C-n")
        pane.wait("Verdict")
        pane.send("C-n")
        pane.wait("Whole plan")
        pane.send("C-n")
        confirm = pane.wait("Approve per VM")
        assert "[x] VM " in confirm  # readable without colour
        pane.send("C-n")
        deadline = time.monotonic() + 120
        while "Finished:" not in (text := pane.text()):
            assert time.monotonic() < deadline, text
            assert "The run needs your answer" not in text  # approved before the run
            time.sleep(0.2)
        pane.send("C-n")
        validation = pane.wait("fix(es) needed")
        flat = " ".join(validation.split())  # the line may wrap
        assert re.search(r"[1-9]\d* fix\(es\) needed: [1-9]\d* applied, 0 declined", flat), flat
        pane.send("C-n")
        summary = pane.wait("VM(s) compliant.")
        shown = [vm for vm in EXPECTED if vm in summary]
        assert len(shown) >= 3, summary  # the table keeps its rows at this size
        assert "what to do:" in summary and "Traceback" not in summary  # the notes panel
        pane.send("C-q")
        deadline = time.monotonic() + 20
        while not done.exists():
            assert time.monotonic() < deadline, pane.text()
            time.sleep(0.2)
        # the demo's contract (as `fipswizard demo`): 0 when every VM ended as its case expects
        assert done.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
