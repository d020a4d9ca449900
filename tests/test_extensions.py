"""Validation never creates a second extension of a handler the VM has, nor touches one the
run did not create (issue 8 item 1; Azure: "Multiple VMExtensions per handler not supported
for OS type 'Linux'", reference arm-conformance.md D6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.events import Event, StepFinished, StepStatus
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.sandbox.estate import bootstrap_extension
from fipswizard.sandbox.model import Extension
from fipswizard.session import Options, run_apply, run_rollback
from tests.inproc import FAST


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> tuple[SandboxAzure, Options]:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "token-for-extension-tests")
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    return sandbox, Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )


def recipe_for(sandbox: SandboxAzure, name: str, guest: str = "auto") -> Recipe:
    vm = sandbox.estate.vms[name]
    return Recipe(targets=(RecipeTarget(Target(vm.subscription, vm.resource_group, name), guest),))


def ext_writes(sandbox: SandboxAzure, vm: str, ext: str) -> list[str]:
    return [
        f"{e['method']} {e['path']}"
        for e in sandbox.log.writes()
        if e["path"].lower().endswith(f"/virtualmachines/{vm}/extensions/{ext}".lower())
    ]


async def test_own_customscript_validates_untouched(
    env: tuple[SandboxAzure, Options], tmp_path: Path
) -> None:
    sandbox, opts = env
    vm = sandbox.estate.vms["ubuntu2204-bootstrap"]
    before = repr(vm.extensions["bootstrap"])
    events: list[Event] = []
    done = await run_apply(
        recipe_for(sandbox, vm.name), opts, HeadlessPrompter(True), tmp_path / "j", events.append
    )
    assert done.ok, done.to_text()
    assert repr(vm.extensions["bootstrap"]) == before
    assert ext_writes(sandbox, vm.name, "bootstrap") == []
    assert ext_writes(sandbox, vm.name, "fipswizard-validate") == []  # no second CustomScript
    skipped = [
        e for e in events if isinstance(e, StepFinished) and e.step_id == "validate-customscript"
    ]
    assert skipped[0].status is StepStatus.SKIPPED
    assert "'bootstrap'" in skipped[0].detail and "VMAccess" in skipped[0].detail
    assert [
        e.status for e in events if isinstance(e, StepFinished) and e.step_id == "validate-vmaccess"
    ] == [StepStatus.APPLIED]
    # Rollback removes what the run created (enablevmaccess), never the bootstrap script.
    back = await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), lambda e: None)
    assert str(back.targets[recipe_for(sandbox, vm.name).targets[0].target.key].outcome) == (
        "rolled back"
    )
    assert set(vm.extensions) == {"bootstrap"} and repr(vm.extensions["bootstrap"]) == before
    assert vm.guest.users == {}


async def test_users_own_vmaccess_is_never_touched(
    env: tuple[SandboxAzure, Options], tmp_path: Path
) -> None:
    """The portal's "reset password" installs `enablevmaccess`: it is the user's, not ours."""
    sandbox, opts = env
    vm = sandbox.estate.vms["ubuntu2204-web"]
    vm.extensions["enablevmaccess"] = Extension(
        "enablevmaccess",
        "Microsoft.OSTCExtensions",
        "VMAccessForLinux",
        "1.5",
        provisioning_state="Succeeded",
    )
    before = repr(vm.extensions["enablevmaccess"])
    events: list[Event] = []
    done = await run_apply(
        recipe_for(sandbox, vm.name), opts, HeadlessPrompter(True), tmp_path / "j", events.append
    )
    assert done.ok, done.to_text()
    assert ext_writes(sandbox, vm.name, "enablevmaccess") == []
    skipped = [
        e for e in events if isinstance(e, StepFinished) and e.step_id == "validate-vmaccess"
    ]
    assert skipped[0].status is StepStatus.SKIPPED and "CustomScript" in skipped[0].detail
    await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), lambda e: None)
    assert repr(vm.extensions["enablevmaccess"]) == before
    assert "fipswizard-validate" not in vm.extensions  # the one the run created is gone
    assert ext_writes(sandbox, vm.name, "enablevmaccess") == []


async def test_sandbox_refuses_a_second_customscript(env: tuple[SandboxAzure, Options]) -> None:
    """The rule the tool must respect, as the sandbox models it."""
    from fipswizard.sandbox.testing import arm_client, vm_path

    sandbox, _ = env
    vm = sandbox.estate.vms["ubuntu2204-bootstrap"]
    assert repr(vm.extensions["bootstrap"]) == repr(bootstrap_extension())
    async with arm_client(sandbox) as client:
        resp = await client.put(
            vm_path(vm.subscription, vm.resource_group, vm.name)
            + "/extensions/fipswizard-validate?api-version=2024-11-01",
            json={
                "location": vm.location,
                "properties": {
                    "publisher": "Microsoft.Azure.Extensions",
                    "type": "CustomScript",
                    "typeHandlerVersion": "2.1",
                },
            },
        )
    assert resp.status_code == 400 and "Multiple VMExtensions per handler" in resp.text
