"""Ctrl-C (issue 7.7): a disruptive step interrupted mid-way finishes, so the VM is left
running, and the process exits 130 with the journal ready for resume."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.sandbox_proc import DEMO_SUB, SandboxProc, cli_env, write_recipe


def test_ctrl_c_between_deallocate_and_start_leaves_the_vm_running(tmp_path: Path) -> None:
    sandbox = SandboxProc(tmp_path, "--op-seconds", "1.5")
    try:
        recipe = write_recipe(
            tmp_path / "r.toml", [(DEMO_SUB, "fips-demo", "ubuntu2204-fipsimage")]
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "fipswizard", "apply", str(recipe), "--yes"],
            env=cli_env(sandbox.url),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 90
        while sandbox.vm("ubuntu2204-fipsimage")["power_state"] == "running":
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # the VM is deallocating: the fix is mid-way
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "letting 'Fix: deallocate and start" in err and "interrupted" in err
        assert sandbox.vm("ubuntu2204-fipsimage")["power_state"] == "running"
        paths = [r["path"] for r in sandbox.requests() if r["method"] == "POST"]
        assert [p.rsplit("/", 1)[1] for p in paths if p.endswith(("/deallocate", "/start"))] == [
            "deallocate",
            "start",
        ]
    finally:
        sandbox.stop()


def test_sigkill_between_deallocate_and_start_is_finished_by_the_next_apply(
    tmp_path: Path,
) -> None:
    sandbox = SandboxProc(tmp_path, "--op-seconds", "1.5")
    try:
        recipe = write_recipe(
            tmp_path / "r.toml", [(DEMO_SUB, "fips-demo", "ubuntu2204-fipsimage")]
        )
        env = cli_env(sandbox.url)
        argv = [sys.executable, "-m", "fipswizard", "apply", str(recipe), "--yes"]
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while sandbox.vm("ubuntu2204-fipsimage")["power_state"] == "running":
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        while sandbox.vm("ubuntu2204-fipsimage")["power_state"] != "deallocated":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # The next apply first starts the VM the earlier (approved) run deallocated.
        again = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr + again.stdout
        assert "recovered" in again.stderr
        assert sandbox.vm("ubuntu2204-fipsimage")["power_state"] == "running"
    finally:
        sandbox.stop()
