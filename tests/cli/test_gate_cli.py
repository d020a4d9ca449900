"""Issue 7.1 and 7.9 through the real CLI: one gate before the first write, runnable remedies."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from tests.cli.sandbox_proc import DEMO_SUB, SandboxProc, cli_env, fipswizard, write_recipe


def demo_vms(sandbox: SandboxProc) -> list[tuple[str, str, str]]:
    names = sorted(sandbox.get("/_sandbox/state")["vms"].items())
    return [(vm["subscription"], vm["resource_group"], name) for name, vm in names]


def printed_command(stderr: str, label: str = "then approve and run") -> list[str]:
    found = re.search(label + r": (fipswizard .*)$", stderr, re.MULTILINE)
    assert found, stderr
    argv = shlex.split(found.group(1))
    return [sys.executable, "-m", *argv] if argv[0] != "fipswizard" else argv[1:]


def test_apply_without_yes_exits_4_before_any_write(sandbox: SandboxProc, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "demo.toml", demo_vms(sandbox), guest="auto")
    env = cli_env(sandbox.url)
    before = sandbox.get("/_sandbox/state")["vms"]
    out = fipswizard(["apply", str(recipe)], env, tmp_path)
    assert out.returncode == 4, out.stderr + out.stdout
    # Only read-only guest checks went through Run Command; nothing else was written.
    writes = sandbox.writes()
    assert all(w["method"] == "POST" and w["path"].endswith("/runCommand") for w in writes), writes
    after = sandbox.get("/_sandbox/state")["vms"]
    for name, vm in before.items():
        assert (after[name]["fips_flag"], after[name]["power_state"]) == (
            vm["fips_flag"],
            vm["power_state"],
        ), name
    # Per VM: what needs approval, with its cost, fixes marked "if needed".
    assert "nothing has been changed" in out.stderr
    assert re.search(r"/ubuntu2204-web:\n(    - .*\n)*    - .*Reboot", out.stderr), out.stderr
    assert "[fix-reallocate, if needed]: Deallocate and start" in out.stderr
    assert "needs confirmation" in out.stdout

    # The remedies are runnable as printed: first the review, then the approval.
    review = fipswizard(printed_command(out.stderr, "review the plan"), env, tmp_path)
    assert review.returncode == 0 and "== Summary ==" in review.stdout, review.stderr
    argv = printed_command(out.stderr)
    assert argv[-1] == "--yes"
    again = fipswizard(argv, env, tmp_path)
    assert again.returncode in (0, 1), again.stderr
    assert "needs confirmation" not in again.stdout
    assert sandbox.vm("ubuntu2204-web")["fips_flag"] is True


def test_second_apply_of_compliant_estate_needs_no_yes(
    sandbox: SandboxProc, tmp_path: Path
) -> None:
    recipe = write_recipe(tmp_path / "r.toml", [(DEMO_SUB, "fips-demo", "ubuntu2204-fipsimage")])
    env = cli_env(sandbox.url)
    first = fipswizard(["apply", str(recipe)], env, tmp_path)
    assert first.returncode == 4, first.stderr  # the fix (deallocate) may be needed: asks
    assert sandbox.writes() == []  # guest none: not even a Run Command
    assert "Deallocate and start" in first.stderr
    done = fipswizard(printed_command(first.stderr), env, tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    sandbox.reset_log()
    second = fipswizard(["apply", str(recipe)], env, tmp_path)
    assert second.returncode == 0, second.stderr + second.stdout
    assert sandbox.writes() == []
