"""Simulated guests (fipswizard/sandbox/guest_os*.py) answering the real recipe scripts, sent
through the engine's RunCommandRunner and ArmClient over the sandbox's httpx transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from fipswizard.azure.arm import ArmClient
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.azure.vm_model import agent_and_power
from fipswizard.context import ScriptResult, Settings, Target
from fipswizard.errors import StepError
from fipswizard.guest.detect import PROBE_SCRIPT, parse_probe, select_recipe
from fipswizard.guest.recipes import (
    all_guest_recipes,
    load_guest_recipe,
    script_text,
    wrap_snippet,
)
from fipswizard.guest.runners import RunCommandRunner
from fipswizard.guest.script_steps import REBOOT_CHECK, REBOOT_CLEAR
from fipswizard.sandbox import FakeClock, SandboxAzure
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
from fipswizard.sandbox.guest_model import RHEL9_DAEMON_MAIN
from fipswizard.sandbox.guest_os import handled_names
from fipswizard.secrets import Secret

DONE, NEEDED, REFUSED = 0, 10, 20
API = "2025-04-01"
PRO_TOKEN = "pro-C0ntract-T0ken-for-sandbox"
TUXCARE_KEY = "ESU-sandbox-licence-4f2e9a"


class Cloud:
    """The sandbox plus an ArmClient whose waits advance the fake clock."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.sandbox = SandboxAzure(clock=self.clock, op_seconds=20)

        async def sleep(seconds: float) -> None:
            self.clock.advance(max(seconds, 1.0))

        self.arm = ArmClient(
            CLOUDS["AzureCloud"],
            StaticToken(_secret("sandbox-tok")),
            correlation_id="guests",
            transport=self.sandbox.transport(),
            sleep=sleep,
        )

    def target(self, vm: str) -> Target:
        return Target(DEMO_SUBSCRIPTION, DEMO_GROUP, vm)

    def guest(self, vm: str) -> Any:
        return self.sandbox.estate.vms[vm.lower()].guest

    async def run(self, vm: str, script: str, **secrets: str) -> ScriptResult:
        env = {k: _secret(v) for k, v in secrets.items()}
        return await RunCommandRunner(self.arm, self.target(vm), Settings()).run(script, env=env)

    async def phase(
        self, vm: str, recipe: str, step: str, phase: str, **secrets: str
    ) -> ScriptResult:
        return await self.run(vm, script_text(load_guest_recipe(recipe), step, phase), **secrets)

    async def reboot_script(self, vm: str, recipe: str, phase: str, snippet: str) -> ScriptResult:
        return await self.run(
            vm, wrap_snippet(load_guest_recipe(recipe), "engine", "reboot", phase, snippet)
        )

    async def restart(self, vm: str) -> tuple[bool, str]:
        path = self.target(vm).vm_path
        await self.arm.post(f"{path}/restart", API, None, retry_safe=True)
        self.clock.advance(120)
        view = (await self.arm.get(f"{path}/instanceView", API)).body
        ready, display, _version, power = agent_and_power(view)
        assert power == "running"
        return ready, display

    async def walk(self, vm: str, recipe: str, **secrets: str) -> None:
        """check, then apply what is needed, for every step before the reboot."""
        for spec in load_guest_recipe(recipe).steps:
            if spec.is_reboot:
                return
            res = await self.phase(vm, recipe, spec.id, "check")
            if res.rc == NEEDED:
                res = await self.phase(vm, recipe, spec.id, "apply", **secrets)
            assert res.rc == DONE, f"{spec.id}: rc={res.rc} {res.stdout} {res.stderr}"


def _secret(value: str) -> Secret:
    return Secret(value, "test")


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    c = Cloud()
    async with c.arm:
        yield c


def test_every_recipe_marker_has_a_handler() -> None:
    names = handled_names()
    for recipe in all_guest_recipes():
        for spec in recipe.steps:
            if not spec.is_reboot:
                for phase in ("check", "apply", "verify", "rollback"):
                    assert f"{spec.recipe}/{spec.id}/{phase}" in names
    assert {"engine/probe/check", "engine/reboot/check", "engine/reboot/verify"} <= names


@pytest.mark.parametrize(
    ("vm", "recipe"),
    [
        ("ubuntu2204-web", "ubuntu"),
        ("rhel95-db", "rhel9"),
        ("alma92-ledger", "alma92-tuxcare"),
        ("flatcar-edge", "flatcar"),
    ],
)
async def test_probe_selects_the_recipe(cloud: Cloud, vm: str, recipe: str) -> None:
    res = await cloud.run(vm, PROBE_SCRIPT)
    facts = parse_probe(res.stdout)
    assert res.rc == 0 and facts.complete
    assert select_recipe(facts).id == recipe
    assert facts.fips_state == "disabled" and facts.agent_goal_state


async def test_rhel95_agent_loops_after_the_fips_reboot_without_the_workaround(
    cloud: Cloud,
) -> None:
    vm = "rhel95-db"
    res = await cloud.phase(vm, "rhel9", "fips-mode", "apply")
    assert res.rc == DONE, res.stdout
    assert "self._initialize_telemetry()" in cloud.guest(vm).files[RHEL9_DAEMON_MAIN]
    ready, display = await cloud.restart(vm)
    assert not ready and display == "Not Ready"
    with pytest.raises(StepError, match="Run Command failed"):
        await cloud.phase(vm, "rhel9", "fips-mode", "verify")


async def test_rhel95_whole_recipe_then_reboot_comes_back_ready(cloud: Cloud) -> None:
    vm = "rhel95-db"
    await cloud.walk(vm, "rhel9")
    main = cloud.guest(vm).files[RHEL9_DAEMON_MAIN]
    assert "        # self._initialize_telemetry()" in main.splitlines()
    assert (await cloud.reboot_script(vm, "rhel9", "check", REBOOT_CHECK)).rc == NEEDED
    ready, display = await cloud.restart(vm)
    assert ready, display
    res = await cloud.reboot_script(vm, "rhel9", "check", REBOOT_CHECK)
    assert res.rc == DONE and "rebooted=1" in res.stdout
    res = await cloud.phase(vm, "rhel9", "fips-mode", "verify")
    assert res.rc == DONE and "fips_enabled=1" in res.stdout, res.stdout
    assert (await cloud.reboot_script(vm, "rhel9", "verify", REBOOT_CLEAR)).rc == DONE
    assert (await cloud.reboot_script(vm, "rhel9", "check", REBOOT_CHECK)).stdout.endswith(
        "done=no reboot pending\n"
    )
    # restoring the unpatched daemon while still in FIPS mode is refused (it would loop) ...
    res = await cloud.phase(vm, "rhel9", "agent-workaround", "rollback")
    assert res.rc == REFUSED and "FIPS mode" in res.stdout
    # ... and done once FIPS mode is rolled back and the VM rebooted
    assert (await cloud.phase(vm, "rhel9", "fips-mode", "rollback")).rc == DONE
    ready, display = await cloud.restart(vm)
    assert ready, display
    assert (await cloud.phase(vm, "rhel9", "agent-workaround", "rollback")).rc == DONE
    assert cloud.guest(vm).files[RHEL9_DAEMON_MAIN] != main


async def test_ubuntu_2204_fips_updates_pending_then_fips_kernel(cloud: Cloud) -> None:
    vm = "ubuntu2204-web"
    await cloud.walk(vm, "ubuntu", FW_SECRET_PRO_TOKEN=PRO_TOKEN)
    res = await cloud.phase(vm, "ubuntu", "fips-updates", "check")
    assert res.rc == DONE and "reboot_pending=yes" in res.stdout
    assert (await cloud.phase(vm, "ubuntu", "fips-updates", "verify")).rc == NEEDED
    ready, _ = await cloud.restart(vm)
    assert ready
    res = await cloud.phase(vm, "ubuntu", "fips-updates", "verify")
    assert res.rc == DONE and "kernel=5.15.0-1077-azure-fips" in res.stdout


async def test_ubuntu_attach_takes_the_token_from_parameters_only(cloud: Cloud) -> None:
    vm = "ubuntu2204-web"
    cloud.guest(vm).extra["pro_attached"] = False
    assert (await cloud.phase(vm, "ubuntu", "pro-attach", "apply")).rc == REFUSED
    res = await cloud.phase(vm, "ubuntu", "pro-attach", "apply", FW_SECRET_PRO_TOKEN=PRO_TOKEN)
    assert res.rc == DONE
    assert PRO_TOKEN not in repr(cloud.guest(vm).snapshot())


async def test_ubuntu_2404_rollback_is_refused(cloud: Cloud) -> None:
    vm = "ubuntu2404-api"
    await cloud.walk(vm, "ubuntu")
    res = await cloud.phase(vm, "ubuntu", "fips-updates", "rollback")
    assert res.rc == REFUSED and "LP #2140749" in res.stdout


async def test_alma92_tuxcare_to_the_tuxcare_fips_kernel(cloud: Cloud) -> None:
    vm = "alma92-ledger"
    res = await cloud.phase(vm, "alma92-tuxcare", "tuxctl-register", "apply")
    assert res.rc == REFUSED  # tuxcare-release first
    await cloud.walk(vm, "alma92-tuxcare", FW_SECRET_TUXCARE_KEY=TUXCARE_KEY)
    ready, _ = await cloud.restart(vm)
    assert ready
    res = await cloud.phase(vm, "alma92-tuxcare", "fips-mode", "verify")
    assert res.rc == DONE and "tuxcare" in res.stdout, res.stdout
    assert TUXCARE_KEY not in repr(cloud.guest(vm).snapshot())
    res = await cloud.phase(vm, "alma92-tuxcare", "tuxctl-register", "rollback")
    assert res.rc == DONE and "rollback_risk=irreversible" in res.stdout


async def test_stock_flatcar_gets_through_and_rollback_restores_the_link(cloud: Cloud) -> None:
    vm = "flatcar-edge"
    guest = cloud.guest(vm)
    link = guest.extra["symlinks"]["/etc/waagent.conf"]
    assert link == "../usr/share/waagent/waagent.conf" and guest.goal_state_version == "2.12.0.4"
    for step in (
        "grub-fips",
        "system-fips",
        "fipsmodule-cnf",
        "openssl-cnf",
        "auto-update",
        "goal-state",
    ):
        res = await cloud.phase(vm, "flatcar", step, "check")
        if res.rc == NEEDED:
            res = await cloud.phase(vm, "flatcar", step, "apply")
        assert res.rc == DONE, f"{step}: {res.stdout}"
    assert (
        cloud.guest(vm).files["/oem/grub.cfg"].endswith('set linux_append="$linux_append fips=1"\n')
    )
    assert "/etc/waagent.conf" not in guest.extra["symlinks"]  # a file copy now
    assert guest.goal_state_version >= "2.14.0.1"
    res = await cloud.phase(vm, "flatcar", "auto-update", "rollback")
    assert res.rc == DONE and guest.extra["symlinks"]["/etc/waagent.conf"] == link
    res = await cloud.phase(vm, "flatcar", "auto-update", "apply")  # back on for what follows
    assert res.rc == DONE
    ready, _ = await cloud.restart(vm)
    assert ready and cloud.guest(vm).fips_enabled
    assert (await cloud.phase(vm, "flatcar", "grub-fips", "verify")).rc == DONE
