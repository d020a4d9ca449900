"""`plan` as a CI gate (issue 7.2): one line per unreadable target and exit 1, a summary footer
in text and JSON, a warning for a secret the plan needs but cannot get."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.sandbox_proc import DEMO_SUB, SandboxProc, cli_env, fipswizard, write_recipe

VMS = [(DEMO_SUB, "fips-demo", "ubuntu2204-web"), (DEMO_SUB, "fips-demo", "no-such-vm")]


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("fipswizard: plan: ")]


def test_plan_of_a_missing_vm_fails_with_one_line_and_a_footer(
    sandbox: SandboxProc, tmp_path: Path
) -> None:
    recipe = write_recipe(tmp_path / "r.toml", VMS)
    out = fipswizard(["plan", str(recipe)], cli_env(sandbox.url), tmp_path)
    assert out.returncode == 1, out.stderr
    lines = problem_lines(out.stderr)
    assert len(lines) == 1 and "/no-such-vm: could not read the VM" in lines[0], out.stderr
    footer = out.stdout.split("== Summary ==", 1)[1]
    assert "   VMs: 2" in footer and "flag changes: 2" in footer
    assert "VMs that could not be read: 1 (no-such-vm)" in footer
    assert "read from Azure, except 1 target(s)" in out.stdout
    assert sandbox.writes() == []

    js = fipswizard(["plan", str(recipe), "--format", "json"], cli_env(sandbox.url), tmp_path)
    assert js.returncode == 1
    doc = json.loads(js.stdout)
    assert doc["summary"]["vms"] == 2 and doc["summary"]["unreadable"] == [
        f"{DEMO_SUB}/fips-demo/no-such-vm"
    ]
    assert len(doc["problems"]) == 1


def test_plan_of_readable_vms_exits_0_with_the_summary(
    sandbox: SandboxProc, tmp_path: Path
) -> None:
    vms = [(DEMO_SUB, "fips-demo", n) for n in ("rhel95-db", "rhel96-notready")]
    recipe = write_recipe(tmp_path / "r.toml", vms, guest="auto")
    out = fipswizard(["plan", str(recipe), "--format", "json"], cli_env(sandbox.url), tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)["summary"]
    assert summary["reboots"] == 2 and summary["guest_changes"] == 2
    assert summary["preflight_refuses"] == [f"{DEMO_SUB}/fips-demo/rhel96-notready"]
    assert summary["unreadable"] == [] and summary["flag_changes"] == 2


def test_plan_against_an_unreachable_endpoint_fails(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "r.toml", VMS)
    env = cli_env("http://127.0.0.1:9")  # nothing listens on the discard port
    out = fipswizard(["plan", str(recipe)], env, tmp_path, timeout=120)
    assert out.returncode == 1, out.stderr
    lines = problem_lines(out.stderr)
    assert len(lines) == 3, out.stderr  # the subscription's feature, then each VM
    assert all("no response" in line for line in lines)
    assert "VMs that could not be read: 2" in out.stdout


def test_plan_warns_when_a_needed_secret_is_missing(sandbox: SandboxProc, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "r.toml", [(DEMO_SUB, "fips-demo", "alma92-ledger")], "auto")
    out = fipswizard(["plan", str(recipe)], cli_env(sandbox.url), tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        "warning: secret tuxcare_key is needed by alma92-ledger but the environment variable "
        "FIPSWIZARD_TUXCARE_KEY is not set"
    ) in out.stderr
    env = cli_env(sandbox.url, FIPSWIZARD_TUXCARE_KEY="a-key-for-the-test")
    assert "warning" not in fipswizard(["plan", str(recipe)], env, tmp_path).stderr
