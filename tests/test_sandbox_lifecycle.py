"""Sandbox: power actions, certificate packages and extensions with protected settings."""

from __future__ import annotations

import httpx
import pytest

from fipswizard.sandbox import FakeClock, SandboxAzure
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
from fipswizard.sandbox.guest_model import RHEL9_DAEMON_MAIN
from fipswizard.sandbox.model import PACKAGE_FIPS, PACKAGE_LEGACY
from fipswizard.sandbox.testing import arm_client, vm_path, wait_operation

API = {"api-version": "2024-11-01"}
FEATURE = (
    f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Features/providers/"
    "Microsoft.Compute/features/OptInToFips1403Compliance"
)
SECRET_PASSWORD = "Sandbox-Pa55word-7b1e"


def demo_vm(name: str) -> str:
    return vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxAzure:
    return SandboxAzure(clock=clock, op_seconds=5, registration_seconds=10)


async def act(c: httpx.AsyncClient, clock: FakeClock, vm: str, action: str) -> httpx.Response:
    r = await c.post(demo_vm(vm) + "/" + action, params=API)
    assert r.status_code == 202, r.text
    assert "monitor=true" in r.headers["Location"]
    return await wait_operation(c, r, clock)


async def opt_in(c: httpx.AsyncClient, clock: FakeClock, vm: str, location: str) -> None:
    await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
    clock.advance(10)
    await c.post(
        f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute/register", params=API
    )
    r = await c.put(
        demo_vm(vm),
        params=API,
        json={
            "location": location,
            "properties": {"additionalCapabilities": {"enableFips1403Encryption": True}},
        },
    )
    assert r.status_code == 200, r.text
    assert (await wait_operation(c, r, clock)).json()["status"] == "Succeeded"


async def vmaccess(
    c: httpx.AsyncClient, clock: FakeClock, vm: str, location: str, settings: dict[str, object]
) -> tuple[httpx.Response, httpx.Response]:
    r = await c.put(
        demo_vm(vm) + "/extensions/enablevmaccess",
        params=API,
        json={
            "location": location,
            "properties": {
                "publisher": "Microsoft.OSTCExtensions",
                "type": "VMAccessForLinux",
                "typeHandlerVersion": "1.5",
                "autoUpgradeMinorVersion": True,
                "settings": {},
                "protectedSettings": settings,
            },
        },
    )
    assert r.status_code in (200, 201), r.text
    return r, await wait_operation(c, r, clock)


async def power_state(c: httpx.AsyncClient, vm: str) -> str:
    view = (await c.get(demo_vm(vm) + "/instanceView", params=API)).json()
    return next(s["code"] for s in view["statuses"] if s["code"].startswith("PowerState/"))


async def test_power_states_move_over_time(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        r = await c.post(demo_vm("rhel95-db") + "/deallocate", params=API)
        assert r.status_code == 202
        assert await power_state(c, "rhel95-db") == "PowerState/deallocating"
        location = await c.get(r.headers["Location"])
        assert location.status_code == 202
        clock.advance(5)
        assert await power_state(c, "rhel95-db") == "PowerState/deallocated"
        refused = await c.post(demo_vm("rhel95-db") + "/restart", params=API)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "OperationNotAllowed"
        r = await c.post(demo_vm("rhel95-db") + "/start", params=API)
        assert await power_state(c, "rhel95-db") == "PowerState/starting"
        done = await wait_operation(c, r, clock, use_location=True)
        assert done.status_code == 200
        assert await power_state(c, "rhel95-db") == "PowerState/running"


async def test_deallocate_start_regenerates_package_and_changes_ip(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    vm = sandbox.estate.vms["ubuntu2204-web"]
    ip_before = vm.public_ip
    async with arm_client(sandbox) as c:
        await opt_in(c, clock, "ubuntu2204-web", "uksouth")
        assert vm.cert_package == PACKAGE_LEGACY
        await act(c, clock, "ubuntu2204-web", "restart")  # a reboot keeps the old package
        assert vm.cert_package == PACKAGE_LEGACY
        await act(c, clock, "ubuntu2204-web", "deallocate")
        assert vm.public_ip != ip_before
        assert vm.cert_package == PACKAGE_LEGACY  # issued at the next start
        await act(c, clock, "ubuntu2204-web", "start")
        state = (await c.get("/_sandbox/state")).json()
    assert vm.cert_package == PACKAGE_FIPS
    assert state["vms"]["ubuntu2204-web"]["cert_package"] == PACKAGE_FIPS
    assert state["vms"]["ubuntu2204-web"]["public_ip"] == vm.public_ip


async def test_power_off_then_start_keeps_package(sandbox: SandboxAzure, clock: FakeClock) -> None:
    vm = sandbox.estate.vms["ubuntu2204-web"]
    async with arm_client(sandbox) as c:
        await opt_in(c, clock, "ubuntu2204-web", "uksouth")
        await act(c, clock, "ubuntu2204-web", "powerOff")
        assert await power_state(c, "ubuntu2204-web") == "PowerState/stopped"
        await act(c, clock, "ubuntu2204-web", "start")
    assert vm.cert_package == PACKAGE_LEGACY


async def test_protected_settings_fail_after_opt_in_until_reallocated(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    name, loc = "ubuntu2204-fipsimage", "uksouth"
    guest = sandbox.estate.vms[name].guest
    async with arm_client(sandbox) as c:
        # Before the opt-in the FIPS guest cannot read protected settings at all.
        _, before = await vmaccess(
            c, clock, name, loc, {"username": "fwcheck", "password": SECRET_PASSWORD}
        )
        assert before.json()["status"] == "Failed"
        await opt_in(c, clock, name, loc)
        start, done = await vmaccess(
            c, clock, name, loc, {"username": "fwcheck", "password": SECRET_PASSWORD}
        )
        assert start.json()["properties"]["provisioningState"] in ("Creating", "Updating")
        error = done.json()["error"]
        assert error["code"] == "VMExtensionProvisioningError"
        assert "Error converting PFX to PEM" in error["message"]
        assert "(DES-EDE3-CBC" in error["message"] and "unsupported" in error["message"]
        ext = (
            await c.get(
                demo_vm(name) + "/extensions/enablevmaccess",
                params={**API, "$expand": "instanceView"},
            )
        ).json()
        assert ext["properties"]["provisioningState"] == "Failed"
        status = ext["properties"]["instanceView"]["statuses"][0]
        assert status["level"] == "Error"
        assert "Error converting PFX to PEM" in status["message"]
        assert error["message"].count(status["message"]) == 1  # the message verbatim
        vm_json = (await c.get(demo_vm(name), params=API)).json()
        assert vm_json["properties"]["provisioningState"] == "Failed"
        assert "fwcheck" not in guest.users

        await act(c, clock, name, "deallocate")
        await act(c, clock, name, "start")
        _, ok = await vmaccess(
            c, clock, name, loc, {"username": "fwcheck", "password": SECRET_PASSWORD}
        )
        assert ok.json()["status"] == "Succeeded"
        assert guest.users["fwcheck"]["sudo"] is True
        _, removed = await vmaccess(c, clock, name, loc, {"remove_user": "fwcheck"})
        assert removed.json()["status"] == "Succeeded"
        assert "fwcheck" not in guest.users
        vm_json = (await c.get(demo_vm(name), params=API)).json()
    assert vm_json["properties"]["provisioningState"] == "Succeeded"


async def test_old_goal_state_agent_fails_with_p7m_error(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    guest = sandbox.estate.vms["flatcar-edge"].guest
    guest.fips_enabled = True  # agent 2.12.0.4 with auto-update off
    async with arm_client(sandbox) as c:
        await opt_in(c, clock, "flatcar-edge", "westus2")
        await act(c, clock, "flatcar-edge", "deallocate")
        await act(c, clock, "flatcar-edge", "start")
        _, done = await vmaccess(
            c, clock, "flatcar-edge", "westus2", {"username": "u", "password": SECRET_PASSWORD}
        )
        assert (
            "Failed to decrypt /var/lib/waagent/Certificates.p7m" in done.json()["error"]["message"]
        )
        # Turning auto-update on and rebooting brings the goal-state agent to 2.15.0.1.
        guest.autoupdate = True
        await act(c, clock, "flatcar-edge", "restart")
        assert guest.goal_state_version == "2.15.0.1"
        _, ok = await vmaccess(
            c, clock, "flatcar-edge", "westus2", {"username": "u", "password": SECRET_PASSWORD}
        )
    assert ok.json()["status"] == "Succeeded"


async def test_custom_script_puts_stdout_in_substatus(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    async with arm_client(sandbox) as c:
        r = await c.put(
            demo_vm("rhel94-app") + "/extensions/CustomScript",
            params=API,
            json={
                "properties": {
                    "publisher": "Microsoft.Azure.Extensions",
                    "type": "CustomScript",
                    "typeHandlerVersion": "2.1",
                    "settings": {},
                    "protectedSettings": {"commandToExecute": "cat /etc/os-release"},
                }
            },
        )
        assert r.status_code == 201
        assert (await wait_operation(c, r, clock)).json()["status"] == "Succeeded"
        ext = (
            await c.get(
                demo_vm("rhel94-app") + "/extensions/customscript",
                params={**API, "$expand": "instanceView"},
            )
        ).json()
        view = await c.get(demo_vm("rhel94-app"), params={**API, "$expand": "instanceView"})
    subs = ext["properties"]["instanceView"]["substatuses"]
    stdout = next(s for s in subs if s["code"] == "ComponentStatus/StdOut/succeeded")
    assert 'PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"' in stdout["message"]
    assert "protectedSettings" not in ext["properties"]
    names = [e["name"] for e in view.json()["properties"]["instanceView"]["extensions"]]
    assert names == ["CustomScript"]


async def test_extension_rules(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        await vmaccess(c, clock, "rhel94-app", "westus2", {"username": "a", "password": "p"})
        dup = await c.put(
            demo_vm("rhel94-app") + "/extensions/other",
            params=API,
            json={
                "properties": {
                    "publisher": "Microsoft.OSTCExtensions",
                    "type": "VMAccessForLinux",
                    "typeHandlerVersion": "1.5",
                }
            },
        )
        assert dup.status_code == 400
        assert "Multiple VMExtensions per handler" in dup.json()["error"]["message"]
        _, no_password = await vmaccess(c, clock, "rhel94-app", "westus2", {"username": "b"})
        assert "No password or ssh_key is specified." in no_password.json()["error"]["message"]
        gone = await c.delete(demo_vm("rhel94-app") + "/extensions/enablevmaccess", params=API)
        assert gone.status_code == 202
        await wait_operation(c, gone, clock)
        missing = await c.get(demo_vm("rhel94-app") + "/extensions/enablevmaccess", params=API)
        assert missing.status_code == 404
        await act(c, clock, "rhel94-app", "deallocate")
        stopped = await c.put(
            demo_vm("rhel94-app") + "/extensions/x",
            params=API,
            json={"properties": {"publisher": "P", "type": "T", "typeHandlerVersion": "1.0"}},
        )
    assert (stopped.status_code, stopped.json()["error"]["code"]) == (409, "OperationNotAllowed")


async def test_agent_not_ready_fails_extensions(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        _, done = await vmaccess(
            c, clock, "rhel96-notready", "eastasia", {"username": "u", "password": "p"}
        )
    assert done.json()["error"]["code"] == "VMAgentStatusCommunicationError"


async def test_rhel95_daemon_loops_under_fips_until_patched(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    guest = sandbox.estate.vms["rhel95-db"].guest
    guest.pending_on_boot["fips_enabled"] = True
    async with arm_client(sandbox) as c:
        await act(c, clock, "rhel95-db", "restart")
        view = (await c.get(demo_vm("rhel95-db") + "/instanceView", params=API)).json()
        assert view["vmAgent"]["statuses"][0]["displayStatus"] == "Not Ready"
        text = guest.files[RHEL9_DAEMON_MAIN]
        guest.files[RHEL9_DAEMON_MAIN] = text.replace(
            "        self._initialize_telemetry()\n", "        # self._initialize_telemetry()\n"
        )
        view = (await c.get(demo_vm("rhel95-db") + "/instanceView", params=API)).json()
    assert view["vmAgent"]["statuses"][0]["displayStatus"] == "Ready"


# ------------------------------------------------- the agent wait's advice fits the cause (#13)


@pytest.mark.parametrize(
    ("name", "power", "says", "not_says"),
    [
        ("ubuntu2204-web", "deallocated", "az vm start --subscription", "boot diagnostics"),
        ("ubuntu2204-web", "stopped", "az vm start --subscription", "boot diagnostics"),
        ("rhel96-notready", "running", "boot diagnostics", "az vm start"),
    ],
)
async def test_agent_wait_advice_per_cause(name: str, power: str, says: str, not_says: str) -> None:
    import time

    from fipswizard.azure.arm import ArmClient
    from fipswizard.azure.clouds import resolve_cloud
    from fipswizard.azure.credentials import StaticToken
    from fipswizard.azure.steps_vm import AgentStep
    from fipswizard.context import Context
    from fipswizard.engine.prompter import HeadlessPrompter
    from fipswizard.engine.steps import Risk
    from fipswizard.errors import StepError
    from fipswizard.sandbox.estate import demo_estate
    from fipswizard.secrets import Secret
    from tests.virtual_time import VirtualTime

    az = SandboxAzure(demo_estate(), op_seconds=0.05)
    vm = az.estate.vms[name]
    if power != "running":
        vm.power_state = power
        vm.guest.shutdown()
    cloud = resolve_cloud("AzureCloud")
    params = {"endpoint": cloud.arm_endpoint, "api": "2025-04-01", "vm_path": demo_vm(name)}
    step = AgentStep(name, "agent", Risk.READ_ONLY, params)
    async with ArmClient(
        cloud, StaticToken(Secret("t", "token")), correlation_id="c", transport=az.transport()
    ) as arm:
        # The real wait (300 s, a poll every 10 s) on virtual time: the Not Ready case took
        # 1 s of wall clock before (a shrunk 1 s wait), now a few milliseconds.
        vt = VirtualTime()
        ctx = Context(prompter=HeadlessPrompter(True), arm=arm, clock=vt.clock, sleep=vt.sleep)
        started = time.monotonic()
        with pytest.raises(StepError) as err:
            await step.apply(ctx, await step.check(ctx))
    text = str(err.value)
    assert says in text and not_says not in text
    assert time.monotonic() - started < 1
    if power != "running":  # nothing will start it: no waiting for the agent
        assert vt.slept == 0
        assert f"--resource-group {DEMO_GROUP} --name {name}" in text
    else:
        assert vt.slept == ctx.settings.agent_wait and "after 300s" in text
