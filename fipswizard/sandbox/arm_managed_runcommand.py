"""Managed Run Command: the `virtualMachines/{vm}/runCommands/{name}` child resource.

Sources: azure-rest-api-specs ComputeRP 2025-04-01 `runCommand.json` (VirtualMachineRunCommand:
`location` required, `tags`, `properties.source.{script,scriptUri,commandId}`, `parameters`,
`protectedParameters` [{name, value}], `asyncExecution` (default false), `timeoutInSeconds`,
`treatFailureAsDeploymentFailure` (default false), read-only `provisioningState` and, with
`$expand=instanceView`, `instanceView` {executionState Unknown|Pending|Running|Failed|
Succeeded|TimedOut|Canceled, executionMessage, exitCode, output, error, startTime, endTime};
PUT 200/201 LRO, DELETE 200/202/204 LRO, list `{"value": [...]}`), and example
`runCommandExamples/VirtualMachineRunCommand_CreateOrUpdate.json` (Azure-AsyncOperation).
The guest side follows RunCommandHandlerLinux (Azure/run-command-handler-linux):
`internal/exec/exec.go` sets every named parameter, protected ones included, as an
environment variable of the script (`SetEnvironmentVariables`) and writes only the script
to `/var/lib/waagent/run-command-handler/download/<name>/<seq>/script.sh` with stdout and
stderr beside it; `internal/cleanup/cleanup.go` removes a run command's scripts and settings.

What the sandbox models, and why (UNCONFIRMED details marked):
  * `protectedParameters` are write-only: never returned by GET/list, never in the state dump,
    and dropped from the sandbox's memory once the script ran (like extension protected
    settings, arm_extensions.py). They reach the script as environment variables and are
    written nowhere on the simulated disk. (On a real VM they sit in the handler's settings
    file encrypted to the VM's certificate; the sandbox writes no copy at all.)
  * A PUT whose properties equal the stored ones does not run the script again (UNCONFIRMED;
    modelled on the extension rule that only a changed configuration or `forceUpdateTag`
    makes the agent run a handler again). Any change runs it again.
  * Output and error are each cut to their last 4,096 bytes (UNCONFIRMED for managed; the
    documented limit of action Run Command).
  * DELETE removes the resource and its download folder (cleanup.go; UNCONFIRMED that CRP
    triggers it on DELETE).
  * `timeoutInSeconds` is accepted but not simulated (handlers return at once).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fipswizard.sandbox.arm_actions import reboot
from fipswizard.sandbox.arm_runcommand import RUNNING, agent_unreachable, tail
from fipswizard.sandbox.model import Operation, VirtualMachine, normalise_location
from fipswizard.sandbox.operations import async_headers, schedule
from fipswizard.sandbox.wire import ArmError, Request, Response, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

DOWNLOAD = "/var/lib/waagent/run-command-handler/download"
RESOURCE_TYPE = "Microsoft.Compute/virtualMachines/runCommands"


@dataclass
class ManagedRunCommand:
    name: str
    location: str
    script: str
    parameters: dict[str, str]
    tags: dict[str, str]
    async_execution: bool
    timeout: int
    treat_failure: bool
    digest: str  # sha256 of the properties as sent (protected values included), to spot a re-PUT
    protected: dict[str, str] | None = field(default=None, repr=False)  # until the script ran
    provisioning_state: str = "Creating"
    execution_state: str = "Pending"
    exit_code: int | None = None
    output: str = ""
    error: str = ""
    start_t: float | None = None
    end_t: float | None = None
    runs: int = 0  # how often the guest ran it (tests)


def _not_found(vm: VirtualMachine, name: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{RESOURCE_TYPE}/{vm.name}/{name}' under resource group "
        f"'{vm.resource_group}' was not found.",
    )


def resource_json(
    az: SandboxAzure, vm: VirtualMachine, rc: ManagedRunCommand, *, instance_view: bool = False
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "source": {"script": rc.script},
        "parameters": [{"name": k, "value": v} for k, v in rc.parameters.items()],
        "asyncExecution": rc.async_execution,
        "timeoutInSeconds": rc.timeout,
        "treatFailureAsDeploymentFailure": rc.treat_failure,
        "provisioningState": rc.provisioning_state,
    }
    if instance_view:
        view: dict[str, Any] = {
            "executionState": rc.execution_state,
            "executionMessage": "",
            "output": rc.output,
            "error": rc.error,
        }
        if rc.exit_code is not None:
            view["exitCode"] = rc.exit_code
        if rc.start_t is not None:
            view["startTime"] = az.iso(rc.start_t)
        if rc.end_t is not None:
            view["endTime"] = az.iso(rc.end_t)
        props["instanceView"] = view
    body: dict[str, Any] = {
        "id": f"{vm.id}/runCommands/{rc.name}",
        "name": rc.name,
        "type": RESOURCE_TYPE,
        "location": rc.location,
        "properties": props,
    }
    if rc.tags:
        body["tags"] = dict(rc.tags)
    return body


def list_run_commands(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    return json_response(
        200, {"value": [resource_json(az, vm, rc) for rc in vm.guest.run_commands.values()]}
    )


def get_run_command(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    rc = vm.guest.run_commands.get(p["rc"].lower())
    if rc is None:
        raise _not_found(vm, p["rc"])
    expand = req.query.get("$expand", "").lower() == "instanceview"
    return json_response(200, resource_json(az, vm, rc, instance_view=expand))


def _pairs(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list) or not all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in value
    ):
        raise ArmError(
            400, "InvalidParameter", f"'{key}' must be an array of objects with 'name' and 'value'."
        )
    return {i["name"]: str(i.get("value", "")) for i in value}


def _parse(vm: VirtualMachine, name: str, body: dict[str, Any]) -> ManagedRunCommand:
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise ArmError(
            400, "LocationRequired", "The location property is required for this definition."
        )
    if normalise_location(location) != normalise_location(vm.location):
        raise ArmError(
            400,
            "InvalidParameter",
            f"The run command location must be the VM location '{vm.location}'.",
        )
    props = body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidParameter", "'properties' must be a JSON object.")
    source = props.get("source")
    script = source.get("script") if isinstance(source, dict) else None
    if not isinstance(script, str) or not script.strip():
        # The sandbox runs inline scripts only (no scriptUri download, no built-in commandId).
        raise ArmError(
            400, "InvalidParameter", "The sandbox supports 'properties.source.script' only."
        )
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        raise ArmError(400, "InvalidParameter", "'tags' must be a JSON object.")
    timeout = props.get("timeoutInSeconds", 0)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        raise ArmError(400, "InvalidParameter", "'timeoutInSeconds' must be an integer >= 0.")
    digest = hashlib.sha256(json.dumps(props, sort_keys=True).encode()).hexdigest()
    return ManagedRunCommand(
        name=name,
        location=location,
        script=script,
        parameters=_pairs(props.get("parameters"), "parameters"),
        protected=_pairs(props.get("protectedParameters"), "protectedParameters"),
        tags={str(k): str(v) for k, v in tags.items()},
        async_execution=props.get("asyncExecution") is True,
        timeout=timeout,
        treat_failure=props.get("treatFailureAsDeploymentFailure") is True,
        digest=digest,
    )


def put_run_command(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    existing = vm.guest.run_commands.get(p["rc"].lower())
    rc = _parse(vm, existing.name if existing else p["rc"], req.json_object())
    if vm.power_state not in RUNNING:
        raise ArmError(
            409,
            "OperationNotAllowed",
            "The operation requires the VM to be running (or set to run).",
        )
    if existing is not None and existing.digest == rc.digest:
        existing.tags = rc.tags  # same configuration: the agent does not run it again
        op = schedule(az, vm, "managedRunCommand", lambda t, op: None, serial=False, seconds=0)
        return json_response(200, resource_json(az, vm, existing), async_headers(az, req, op))
    vm.guest.run_commands[rc.name.lower()] = rc

    def begin(t: float) -> None:
        if vm.guest.run_commands.get(rc.name.lower()) is rc:
            rc.execution_state, rc.start_t = "Running", t

    def done(t: float, op: Operation) -> None:
        if vm.guest.run_commands.get(rc.name.lower()) is not rc:
            return  # replaced or deleted meanwhile
        if vm.power_state != "running" or not vm.guest.agent_ready():
            rc.provisioning_state, rc.execution_state, rc.protected = "Failed", "Unknown", None
            op.fail("VMAgentStatusCommunicationError", agent_unreachable(vm), 409)
            return
        _execute(vm, rc, t)
        if rc.treat_failure and rc.exit_code != 0:
            rc.provisioning_state = "Failed"
            op.fail(
                "VMExtensionProvisioningError",
                f"Run command '{rc.name}' failed with exit code {rc.exit_code}.",
            )
        else:
            rc.provisioning_state = "Succeeded"
        if vm.guest.reboot_requested:
            vm.guest.reboot_requested = False
            reboot(az, vm, "guest-reboot", now=t)

    op = schedule(az, vm, "managedRunCommand", done, on_begin=begin)
    return json_response(
        200 if existing else 201, resource_json(az, vm, rc), async_headers(az, req, op)
    )


def _execute(vm: VirtualMachine, rc: ManagedRunCommand, t: float) -> None:
    """RunCommandHandlerLinux: script file on disk, parameters as environment variables."""
    rc.runs += 1
    folder = f"{DOWNLOAD}/{rc.name}/{rc.runs - 1}"
    vm.guest.write_file(f"{folder}/script.sh", rc.script)
    env = {**rc.parameters, **(rc.protected or {})}
    rc.protected = None  # the handler has them; nothing keeps them after this point
    code, out, err = vm.guest.run_script(rc.script, env)
    vm.guest.write_file(f"{folder}/stdout", tail(out))
    vm.guest.write_file(f"{folder}/stderr", tail(err))
    rc.exit_code, rc.output, rc.error = code, tail(out), tail(err)
    rc.execution_state = "Succeeded" if code == 0 else "Failed"
    rc.start_t = rc.start_t if rc.start_t is not None else t
    rc.end_t = t


def delete_run_command(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    rc = vm.guest.run_commands.get(p["rc"].lower())
    if rc is None:
        return Response(204, {})
    rc.provisioning_state = "Deleting"
    folder = f"{DOWNLOAD}/{rc.name}"

    def done(t: float, op: Operation) -> None:
        if vm.guest.run_commands.get(p["rc"].lower()) is rc:
            del vm.guest.run_commands[p["rc"].lower()]
            vm.guest.remove_tree(folder)

    op = schedule(az, vm, "managedRunCommand-delete", done)
    return Response(202, async_headers(az, req, op, location=True))
