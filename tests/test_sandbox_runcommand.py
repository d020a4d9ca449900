"""Sandbox: Run Command result format, agent readiness, guest reboots requested by scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx
import pytest

from fipswizard.sandbox import FakeClock, SandboxAzure
from fipswizard.sandbox.arm_managed_runcommand import DOWNLOAD as MANAGED_DOWNLOAD
from fipswizard.sandbox.arm_runcommand import DOWNLOAD as ACTION_DOWNLOAD
from fipswizard.sandbox.arm_runcommand import OUTPUT_LIMIT, options
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
from fipswizard.sandbox.guest_model import SimGuest, script_handler
from fipswizard.sandbox.testing import arm_client, vm_path, wait_operation

API = {"api-version": "2025-04-01"}
PARAM_SECRET = "pro-token-C0ntractSecret"


def demo_vm(name: str) -> str:
    return vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, name)


@script_handler("test-sandbox-echo-param")
def _echo_param(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    return 3, f"got {len(params['TOKEN'])} chars\n", "warning: test\n"


@script_handler("test-sandbox-big-output")
def _big(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    return 0, "".join(f"line {i:05d}\n" for i in range(2000)), "e" * 5000


@script_handler("test-sandbox-enable-fips")
def _enable(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    guest.pending_on_boot["fips_enabled"] = True
    guest.request_reboot()
    return 0, "FIPS enabled, rebooting\n", ""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxAzure:
    return SandboxAzure(clock=clock, op_seconds=20)


async def run(
    c: httpx.AsyncClient,
    clock: FakeClock,
    vm: str,
    lines: list[str],
    params: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, object] = {"commandId": "RunShellScript", "script": lines}
    if params:
        body["parameters"] = [{"name": k, "value": v} for k, v in params.items()]
    r = await c.post(demo_vm(vm) + "/runCommand", params=API, json=body)
    assert r.status_code == 202, r.text
    assert r.headers["Location"].endswith("&monitor=true")
    return await wait_operation(c, r, clock, use_location=True)


async def test_result_message_has_stdout_stderr_markers(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    async with arm_client(sandbox) as c:
        done = await run(c, clock, "ubuntu2204-web", ["cat /proc/sys/crypto/fips_enabled"])
    assert done.status_code == 200
    [item] = done.json()["value"]
    assert item["code"] == "ProvisioningState/succeeded"
    assert item["displayStatus"] == "Provisioning succeeded"
    assert item["message"] == "Enable succeeded: \n[stdout]\n0\n__FW_RC=0\n\n[stderr]\n\n"


async def test_handler_gets_params_and_exit_code_is_reported(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    async with arm_client(sandbox) as c:
        done = await run(
            c,
            clock,
            "ubuntu2204-web",
            ["# fipswizard-script: test-sandbox-echo-param", "pro attach"],
            {"TOKEN": PARAM_SECRET},
        )
        log = (await c.get("/_sandbox/requests")).text
        state = (await c.get("/_sandbox/state")).text
    message = done.json()["value"][0]["message"]
    assert message == (
        f"Enable succeeded: \n[stdout]\ngot {len(PARAM_SECRET)} chars\n"
        "__FW_RC=3\n\n[stderr]\nwarning: test\n\n"
    )
    assert PARAM_SECRET not in log
    # RunCommandLinux keeps the script with CRP's `export` prelude on the guest's disk: why
    # fipswizard never sends a secret this way (the state dump shows the guest's files).
    guest = sandbox.estate.vms["ubuntu2204-web"].guest
    kept = guest.files[f"{ACTION_DOWNLOAD}/0/script.sh"]
    assert kept.startswith(f"export TOKEN={PARAM_SECRET}\n# fipswizard-script: ")
    assert guest.files[f"{ACTION_DOWNLOAD}/0/stdout"] == f"got {len(PARAM_SECRET)} chars\n"
    assert PARAM_SECRET in state


async def test_output_is_cut_to_last_4096_bytes(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        done = await run(
            c, clock, "ubuntu2204-web", ["# fipswizard-script: test-sandbox-big-output"]
        )
    message = done.json()["value"][0]["message"]
    out = message.split("[stdout]\n", 1)[1].split("\n[stderr]\n", 1)[0]
    err = message.split("\n[stderr]\n", 1)[1][:-1]
    assert len(out.encode()) == OUTPUT_LIMIT and out.endswith("line 01999\n__FW_RC=0\n")
    assert err == "e" * OUTPUT_LIMIT


async def test_unknown_script_exits_127(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        done = await run(c, clock, "ubuntu2204-web", ["systemctl restart something"])
    message = done.json()["value"][0]["message"]
    assert "__FW_RC=127" in message
    assert "sandbox: no handler for script" in message.split("[stderr]")[1]


async def test_not_ready_agent_makes_run_command_fail(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    async with arm_client(sandbox) as c:
        r = await c.post(
            demo_vm("rhel96-notready") + "/runCommand",
            params=API,
            json={"commandId": "RunShellScript", "script": ["cat /etc/os-release"]},
        )
        assert r.status_code == 202
        status = await wait_operation(c, r, clock)
        location = await c.get(r.headers["Location"])
    assert status.json()["status"] == "Failed"
    assert status.json()["error"]["code"] == "VMAgentStatusCommunicationError"
    assert "has not reported status for VM agent" in status.json()["error"]["message"]
    assert location.status_code == 409
    assert location.json()["error"]["code"] == "VMAgentStatusCommunicationError"


async def test_run_command_rules(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        body = {"commandId": "RunShellScript", "script": ["cat /etc/os-release"]}
        first = await c.post(demo_vm("alma92-ledger") + "/runCommand", params=API, json=body)
        busy = await c.post(demo_vm("alma92-ledger") + "/runCommand", params=API, json=body)
        assert (busy.status_code, busy.json()["error"]["code"]) == (409, "Conflict")
        await wait_operation(c, first, clock)
        unknown = await c.post(
            demo_vm("alma92-ledger") + "/runCommand",
            params=API,
            json={"commandId": "RunPowerShellScript", "script": ["x"]},
        )
        assert unknown.status_code == 404
        empty = await c.post(
            demo_vm("alma92-ledger") + "/runCommand",
            params=API,
            json={"commandId": "RunShellScript", "script": []},
        )
        assert empty.status_code == 400
        dealloc = await c.post(demo_vm("alma92-ledger") + "/deallocate", params=API)
        await wait_operation(c, dealloc, clock)
        stopped = await c.post(demo_vm("alma92-ledger") + "/runCommand", params=API, json=body)
    assert (stopped.status_code, stopped.json()["error"]["code"]) == (409, "OperationNotAllowed")


async def test_script_requested_reboot_applies_pending_state(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    guest = sandbox.estate.vms["ubuntu2204-web"].guest
    boots = guest.boot_count
    async with arm_client(sandbox) as c:
        done = await run(
            c, clock, "ubuntu2204-web", ["# fipswizard-script: test-sandbox-enable-fips"]
        )
        assert "__FW_RC=0" in done.json()["value"][0]["message"]
        assert guest.rebooting and not guest.fips_enabled
        view = (await c.get(demo_vm("ubuntu2204-web") + "/instanceView", params=API)).json()
        assert view["vmAgent"]["statuses"][0]["displayStatus"] == "Not Ready"
        # A command sent during the reboot queues behind it and sees the new kernel state.
        after = await run(c, clock, "ubuntu2204-web", ["cat /proc/sys/crypto/fips_enabled"])
    assert guest.fips_enabled and guest.boot_count == boots + 1
    assert "[stdout]\n1\n__FW_RC=0\n" in after.json()["value"][0]["message"]


async def test_202_with_only_azure_asyncoperation_has_the_result_on_the_status(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    """D5 mode: no Location header; the operation status body carries properties.output."""
    options(sandbox).location_header = False
    async with arm_client(sandbox) as c:
        r = await c.post(
            demo_vm("ubuntu2204-web") + "/runCommand",
            params=API,
            json={"commandId": "RunShellScript", "script": ["cat /proc/sys/crypto/fips_enabled"]},
        )
        assert r.status_code == 202 and "Location" not in r.headers
        status = await wait_operation(c, r, clock)
    [item] = status.json()["properties"]["output"]["value"]
    assert "[stdout]\n0\n__FW_RC=0\n" in item["message"]


# ---------------------------------------------------------------- managed Run Command


@script_handler("test-sandbox-managed-secret")
def _managed(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    guest.extra["managed_runs"] = guest.extra.get("managed_runs", 0) + 1
    return 7, f"token has {len(params['FW_SECRET_PRO_TOKEN'])} chars\n", "careful\n"


def managed_body(script: str, location: str, secret: str = PARAM_SECRET) -> dict[str, object]:
    return {
        "location": location,
        "tags": {"fipswizard": "run-command"},
        "properties": {
            "source": {"script": script},
            "protectedParameters": [{"name": "FW_SECRET_PRO_TOKEN", "value": secret}],
            "asyncExecution": False,
            "timeoutInSeconds": 60,
            "treatFailureAsDeploymentFailure": False,
        },
    }


async def test_managed_run_command_lifecycle_keeps_no_secret(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    vm = sandbox.estate.vms["ubuntu2204-web"]
    path = demo_vm("ubuntu2204-web") + "/runCommands/fipswizard-0a1b2c"
    script = "# fipswizard-script: test-sandbox-managed-secret\npro attach\n"
    async with arm_client(sandbox) as c:
        created = await c.put(path, params=API, json=managed_body(script, vm.location))
        assert created.status_code == 201 and "Azure-AsyncOperation" in created.headers
        assert "protectedParameters" not in created.json()["properties"]
        status = await wait_operation(c, created, clock)
        assert status.json()["status"] == "Succeeded"
        plain = (await c.get(path, params=API)).json()
        assert "instanceView" not in plain["properties"]
        got = (await c.get(path, params={**API, "$expand": "instanceView"})).json()
        view = got["properties"]["instanceView"]
        assert (view["executionState"], view["exitCode"]) == ("Failed", 7)
        assert view["output"] == f"token has {len(PARAM_SECRET)} chars\n"
        assert view["error"] == "careful\n" and got["tags"] == {"fipswizard": "run-command"}
        listed = (await c.get(demo_vm("ubuntu2204-web") + "/runCommands", params=API)).json()
        dump = (await c.get("/_sandbox/state")).json()
        assert dump["guests"]["ubuntu2204-web"]["run_commands"] == ["fipswizard-0a1b2c"]
        assert [r["name"] for r in listed["value"]] == ["fipswizard-0a1b2c"]
        # the same PUT again (a retry after a dropped answer) does not run the script again
        again = await c.put(path, params=API, json=managed_body(script, vm.location))
        assert again.status_code == 200
        await wait_operation(c, again, clock)
        assert vm.guest.extra["managed_runs"] == 1
        state = (await c.get("/_sandbox/state")).text
        on_disk = "\n".join(vm.guest.files.values())
        assert f"{MANAGED_DOWNLOAD}/fipswizard-0a1b2c/0/script.sh" in vm.guest.files
        assert PARAM_SECRET not in state + on_disk + repr(vm.guest.run_commands)
        assert PARAM_SECRET not in json.dumps(listed) + json.dumps(got)
        deleted = await c.delete(path, params=API)
        assert deleted.status_code == 202
        await wait_operation(c, deleted, clock)
        assert (await c.get(path, params=API)).status_code == 404
        assert (await c.delete(path, params=API)).status_code == 204
    assert not any(f.startswith(f"{MANAGED_DOWNLOAD}/fipswizard-0a1b2c") for f in vm.guest.files)


async def test_managed_run_command_rules(sandbox: SandboxAzure, clock: FakeClock) -> None:
    base = demo_vm("rhel96-notready") + "/runCommands/"
    where = sandbox.estate.vms["rhel96-notready"].location
    async with arm_client(sandbox) as c:
        no_location = managed_body("true", where)
        del no_location["location"]
        r = await c.put(base + "a", params=API, json=no_location)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "LocationRequired")
        r = await c.put(
            base + "a", params=API, json=managed_body("true", where) | {"location": "x"}
        )
        assert r.status_code == 400
        r = await c.put(base + "a", params=API, json=managed_body("true", where))
        assert r.status_code == 201
        status = await wait_operation(c, r, clock)  # the agent is not ready
        assert status.json()["error"]["code"] == "VMAgentStatusCommunicationError"
        view = (await c.get(base + "a", params={**API, "$expand": "instanceView"})).json()
        assert view["properties"]["provisioningState"] == "Failed"
        assert (await c.get(base + "missing", params=API)).status_code == 404


async def test_action_download_folders_are_bounded(sandbox: SandboxAzure, clock: FakeClock) -> None:
    from fipswizard.sandbox.arm_runcommand import KEEP_FOLDERS

    guest = sandbox.estate.vms["ubuntu2204-web"].guest
    guest.run_command_seq = 500  # as if many scripts ran before
    guest.write_file(f"{ACTION_DOWNLOAD}/{500 - KEEP_FOLDERS}/script.sh", "old\n")
    async with arm_client(sandbox) as c:
        await run(c, clock, "ubuntu2204-web", ["uname -r"])
    assert f"{ACTION_DOWNLOAD}/500/script.sh" in guest.files
    assert f"{ACTION_DOWNLOAD}/{500 - KEEP_FOLDERS}/script.sh" not in guest.files
