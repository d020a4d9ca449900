"""Rollback leaves every VM consistent (issue 7 item 3; the states are defined once, in
fipswizard/engine/rollback.py): flag and guest FIPS both on, both off, or flag on and guest off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fipswizard.demo_env import EXPECTED, demo_recipe, demo_services
from fipswizard.engine.events import Event, StepFinished, StepStarted, StepStatus
from fipswizard.engine.journal import Journal
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.rollback import pending_undos
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.sandbox.model import VirtualMachine
from fipswizard.session import Options, run_apply, run_rollback
from tests.inproc import FAST

CREATED = ("fipswizard-validate", "enablevmaccess")


def consistent(vm: VirtualMachine) -> bool:
    return vm.fips_flag or not vm.guest.fips_enabled


@pytest.fixture
def env() -> tuple[SandboxAzure, Options]:
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    return sandbox, Options(
        arm_endpoint="https://management.azure.com",
        settings=FAST,
        transport=sandbox.transport(),
        services=demo_services(),
    )


def outcomes(summary: Any) -> dict[str, str]:
    return {k.rsplit("/", 1)[-1]: str(t.outcome) for k, t in summary.targets.items()}


async def test_demo_apply_then_rollback(env: tuple[SandboxAzure, Options], tmp_path: Path) -> None:
    sandbox, opts = env
    recipe = demo_recipe(sandbox, tmp_path / "demo.toml")
    journal = tmp_path / "demo.journal.jsonl"
    done = await run_apply(recipe, opts, HeadlessPrompter(True), journal, lambda e: None)
    got = outcomes(done)
    assert {n: got[n] for n in EXPECTED} == {n: str(o) for n, o in EXPECTED.items()}
    vms = sandbox.estate.vms
    preexisting = {n: set(vm.extensions) - set(CREATED) for n, vm in vms.items()}

    preview: list[str] = []
    await run_rollback(journal, opts, HeadlessPrompter(False), print, preview=preview.extend)
    text = "\n".join(preview)
    # Read-only steps and the flag PUT ARM refused (Mexico Central) are never listed.
    assert "Guest agent is Ready" not in text and "Region check" not in text
    assert "ubuntu2204-mexico" not in text
    assert not [u for u in pending_undos(Journal(journal)) if "mexico" in u.begun.target]

    events: list[Event] = []
    back = await run_rollback(journal, opts, HeadlessPrompter(True), events.append)
    rolled = outcomes(back)
    # Ubuntu 24.04 refuses its guest undo: the flag stays on, the VM is partly rolled back.
    noble = vms["ubuntu2404-api"]
    assert rolled["ubuntu2404-api"] == "partly rolled back"
    assert noble.guest.fips_enabled and noble.fips_flag
    noble_row = next(t for k, t in back.targets.items() if k.endswith("/ubuntu2404-api"))
    assert "platform flag stays on" in noble_row.detail and "snapshot" in noble_row.detail
    flag_kept = [
        e
        for e in events
        if isinstance(e, StepFinished)
        and e.target.endswith("ubuntu2404-api")
        and e.step_id == "vm-flag"
    ]
    assert [e.status for e in flag_kept] == [StepStatus.SKIPPED]
    # The FIPS image was in FIPS mode before the run: its flag stays on too, and says why.
    assert rolled["ubuntu2204-fipsimage"] == "partly rolled back"
    assert vms["ubuntu2204-fipsimage"].fips_flag
    for name in (
        "ubuntu2204-web",
        "rhel95-db",
        "rhel94-app",
        "alma92-ledger",
        "ubuntu2204-bootstrap",
        "ubuntu2204-batch",
    ):
        assert rolled[name] == "rolled back", (name, back.to_text())
        assert not vms[name].guest.fips_enabled
    assert vms["rhel94-app"].fips_flag  # on before the run: left as it was
    assert not vms["ubuntu2204-web"].fips_flag
    assert "ubuntu2204-mexico" not in rolled and "compliant" not in rolled.values()
    for name, vm in vms.items():
        assert consistent(vm), name
        assert vm.power_state == "running", name
        assert vm.guest.users == {}, name
        assert set(vm.extensions) == preexisting[name], name
    assert "1 of" not in back.to_text("rolled back")  # the footer counts rolled-back VMs
    started = [e for e in events if isinstance(e, StepStarted)]
    assert not [e for e in started if e.risk == "read-only"]


async def test_failed_guest_undo_keeps_the_flag(
    env: tuple[SandboxAzure, Options], tmp_path: Path
) -> None:
    """A guest undo that fails (not refused: its script breaks) keeps the flag on too, and a
    second rollback, once the cause is gone, finishes the job."""
    from fipswizard.context import Target
    from fipswizard.recipe import Recipe, RecipeTarget

    sandbox, opts = env
    vm = sandbox.estate.vms["ubuntu2204-web"]
    recipe = Recipe(
        targets=(RecipeTarget(Target(vm.subscription, vm.resource_group, vm.name), "auto"),)
    )
    done = await run_apply(recipe, opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None)
    assert done.ok, done.to_text()
    vm.guest.agent_broken = True  # Run Command cannot reach the guest
    first = await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), lambda e: None)
    assert outcomes(first)["ubuntu2204-web"] == "partly rolled back"
    assert vm.fips_flag and vm.guest.fips_enabled
    vm.guest.agent_broken = False
    second = await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), lambda e: None)
    assert outcomes(second)["ubuntu2204-web"] == "rolled back", second.to_text()
    assert not vm.fips_flag and not vm.guest.fips_enabled and consistent(vm)


def test_rollback_cli_plan_ask_yes(tmp_path: Path) -> None:
    """`rollback --plan` sends nothing; without --yes and no terminal it exits 4 listing the
    undos and sends nothing; --yes rolls back every VM and says so per VM."""
    import subprocess
    import sys

    from tests.cli.sandbox_proc import DEMO_SUB, SandboxProc, cli_env, write_recipe

    proc = SandboxProc(tmp_path)
    try:
        env = cli_env(proc.url)
        names = ("ubuntu2204-web", "ubuntu2204-bootstrap")
        recipe = write_recipe(tmp_path / "r.toml", [(DEMO_SUB, "fips-demo", n) for n in names])
        journal = tmp_path / "r.journal.jsonl"

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "fipswizard", *args],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=240,
                stdin=subprocess.DEVNULL,
            )

        applied = run("apply", str(recipe), "--yes")
        assert applied.returncode == 0, applied.stderr[-2000:]
        proc.reset_log()
        plan = run("rollback", str(journal), "--plan")
        assert plan.returncode == 0, plan.stderr[-2000:]
        for name in names:
            assert name in plan.stdout
        assert "1. undo 'Validate: VMAccess temporary user'" in plan.stdout
        assert "only if every guest undo above succeeded" in plan.stdout
        assert "Guest agent is Ready" not in plan.stdout
        asked = run("rollback", str(journal))
        assert asked.returncode == 4, asked.stderr[-2000:]
        assert "undo 'Set additionalCapabilities" in asked.stderr and "--yes" in asked.stderr
        assert proc.writes() == []
        done = run("rollback", str(journal), "--yes")
        assert done.returncode == 0, done.stdout + done.stderr[-2000:]
        assert done.stdout.count("rolled back") >= 3 and "2 of 2 VMs rolled back" in done.stdout
        for name in names:
            state = proc.vm(name)
            assert state["fips_flag"] is False, state
        again = run("rollback", str(journal), "--yes")  # resumes: nothing left
        assert again.returncode == 0 and "nothing to roll back" in again.stderr
    finally:
        proc.stop()
