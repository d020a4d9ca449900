"""Rollback of a guest run: undo FIPS mode, reboot so it takes effect, then the daemon patch."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.events import Event, StepFinished, StepStarted
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply, run_rollback
from tests.inproc import FAST


async def test_guest_rollback_order_and_end_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "rollback-token-123")
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    opts = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    names = ("rhel95-db", "ubuntu2404-api")
    vms = [sandbox.estate.vms[n] for n in names]
    recipe = Recipe(
        targets=tuple(
            RecipeTarget(Target(v.subscription, v.resource_group, v.name), "auto") for v in vms
        )
    )
    main_py = "/usr/lib/python3.9/site-packages/azurelinuxagent/daemon/main.py"
    original = sandbox.estate.vms["rhel95-db"].guest.files[main_py]
    done = await run_apply(recipe, opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None)
    assert done.ok, done.to_text()
    assert sandbox.estate.vms["rhel95-db"].guest.files[main_py] != original

    events: list[Event] = []
    back = await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), events.append)
    rhel = [e.step_id for e in events if isinstance(e, StepStarted) and "rhel95" in e.target]
    assert (
        rhel.index("rhel9.fips-mode")
        < rhel.index("rhel9.reboot")
        < rhel.index("rhel9.agent-workaround")
    )
    rhel_vm, noble = sandbox.estate.vms["rhel95-db"], sandbox.estate.vms["ubuntu2404-api"]
    assert not rhel_vm.guest.fips_enabled and not rhel_vm.fips_flag
    assert rhel_vm.guest.files[main_py] == original and rhel_vm.guest.agent_ready
    refused = [
        e
        for e in events
        if isinstance(e, StepFinished)
        and e.step_id == "ubuntu.fips-updates"
        and "ubuntu2404" in e.target
    ]
    assert refused and "snapshot" in refused[0].detail and "2140749" in refused[0].detail
    assert noble.guest.fips_enabled  # left as it is, with the reason
    outcomes = {k.rsplit("/", 1)[-1]: str(t.outcome) for k, t in back.targets.items()}
    assert outcomes["rhel95-db"] == "rolled back"
    assert outcomes["ubuntu2404-api"] == "partly rolled back"  # the flag stays on: guest FIPS
