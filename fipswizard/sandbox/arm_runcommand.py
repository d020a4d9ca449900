"""Action Run Command (`POST .../runCommand`, commandId RunShellScript) on the simulated guest.

The result message follows what Linux VMs return: "Enable succeeded: \\n[stdout]\\n<out>\\n
[stderr]\\n<err>\\n", each part cut to its last 4,096 bytes. The sandbox appends
`__FW_RC=<exit code>` as the last stdout line, as the engine's wrapper does on a real VM.

Parameters are NOT secret on this channel, and the sandbox shows why: Azure puts named
parameters at the top of the script as `export NAME=value` (azure-cli#10400, a Microsoft
engineer: "added at the top of your script in the format export arg1=hello arg2=world") and
RunCommandLinux writes the script to /var/lib/waagent/run-command/download/<seq>/script.sh,
with stdout/stderr beside it, and removes that folder only when the extension is uninstalled
(Azure/run-command-extension-linux main/cmds.go, main/main.go). The simulated guest keeps the
same file. UNCONFIRMED: how CRP quotes a value with spaces; the sandbox writes it verbatim.

Answer shapes: 202 with Azure-AsyncOperation and Location (`...&monitor=true`), as in the
2025-04-01 spec example. `options(az).location_header = False` answers with
Azure-AsyncOperation only; then the result is only on the operation status body, as
`properties.output` (arm-conformance D5; the 2017-03-30 example puts the status list there).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fipswizard.guest.protocol import RC_VAR
from fipswizard.sandbox.arm_actions import reboot
from fipswizard.sandbox.model import Operation, VirtualMachine
from fipswizard.sandbox.operations import async_headers, schedule
from fipswizard.sandbox.views import status
from fipswizard.sandbox.wire import ArmError, Request, Response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

OUTPUT_LIMIT = 4096
RUNNING = ("running", "starting")
BUSY = (
    "Run command extension execution is in progress. Please wait for completion before "
    "invoking a run command."
)


DOWNLOAD = "/var/lib/waagent/run-command/download"
KEEP_FOLDERS = 100


@dataclass
class RunCommandOptions:
    location_header: bool = True  # False: 202 with only Azure-AsyncOperation (D5)


_options: weakref.WeakKeyDictionary[SandboxAzure, RunCommandOptions] = weakref.WeakKeyDictionary()


def options(az: SandboxAzure) -> RunCommandOptions:
    """This sandbox's Run Command answer options (tests switch them)."""
    return _options.setdefault(az, RunCommandOptions())


def agent_unreachable(vm: VirtualMachine) -> str:
    return (
        f"VM '{vm.name}' has not reported status for VM agent or extensions. Verify that the "
        "OS is up and healthy, the VM has a running VM agent, and that it can establish "
        "outbound connections to Azure storage. Please refer to "
        "https://aka.ms/vmextensionlinuxtroubleshoot for additional VM agent troubleshooting "
        f"information. (sandbox: {vm.guest.agent_problem() or 'agent not ready'})"
    )


def tail(text: str, limit: int = OUTPUT_LIMIT) -> str:
    data = text.encode("utf-8")
    return data[-limit:].decode("utf-8", errors="ignore") if len(data) > limit else text


def result_message(rc: int, out: str, err: str) -> str:
    if out and not out.endswith("\n"):
        out += "\n"
    out += f"{RC_VAR}={rc}\n"
    return f"Enable succeeded: \n[stdout]\n{tail(out)}\n[stderr]\n{tail(err)}\n"


def _parse(req: Request) -> tuple[str, dict[str, str]]:
    body = req.json_object()
    if body.get("commandId") != "RunShellScript":
        raise ArmError(404, "NotFound", "The entity was not found in this Azure location.")
    script = body.get("script")
    if not isinstance(script, list) or not script or not all(isinstance(s, str) for s in script):
        raise ArmError(
            400,
            "InvalidParameter",
            "'script' must be a non-empty array of strings (the script lines).",
        )
    params: dict[str, str] = {}
    for item in body.get("parameters") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ArmError(400, "InvalidParameter", "Each parameter needs a 'name' and 'value'.")
        params[item["name"]] = str(item.get("value", ""))
    return "\n".join(script), params


def run_command(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    script, params = _parse(req)
    if vm.power_state not in RUNNING:
        raise ArmError(
            409,
            "OperationNotAllowed",
            "The operation requires the VM to be running (or set to run).",
        )
    if any(
        op.vm == vm.name and op.kind == "runCommand" and op.status == "InProgress"
        for op in az.operations.values()
    ):
        raise ArmError(409, "Conflict", BUSY)

    def done(t: float, op: Operation) -> None:
        if vm.power_state != "running" or not vm.guest.agent_ready():
            op.fail("VMAgentStatusCommunicationError", agent_unreachable(vm), 409)
            return
        folder = keep_on_disk(vm, script, params)
        rc, out, err = vm.guest.run_script(script, params)
        vm.guest.write_file(f"{folder}/stdout", tail(out))
        vm.guest.write_file(f"{folder}/stderr", tail(err))
        message = result_message(rc, out, err)
        op.output = {
            "value": [
                status("ProvisioningState/succeeded", "Provisioning succeeded", message=message)
            ]
        }
        if vm.guest.reboot_requested:
            vm.guest.reboot_requested = False
            reboot(az, vm, "guest-reboot", now=t)

    op = schedule(az, vm, "runCommand", done)
    return Response(202, async_headers(az, req, op, location=options(az).location_header))


def keep_on_disk(vm: VirtualMachine, script: str, params: dict[str, str]) -> str:
    """Write the script as RunCommandLinux receives it (CRP's export prelude included)."""
    vm.guest.run_command_seq += 1
    folder = f"{DOWNLOAD}/{vm.guest.run_command_seq - 1}"
    # A sandbox bound, not Azure's: older folders go so a long demo's state stays small.
    vm.guest.remove_tree(f"{DOWNLOAD}/{vm.guest.run_command_seq - 1 - KEEP_FOLDERS}")
    prelude = f"export {' '.join(f'{k}={v}' for k, v in params.items())}\n" if params else ""
    vm.guest.write_file(f"{folder}/script.sh", prelude + script + "\n")
    return folder


def result_of(op: Operation) -> dict[str, Any] | None:
    """The RunCommandResult of a finished operation (tests and the state dump)."""
    return op.output if isinstance(op.output, dict) else None
