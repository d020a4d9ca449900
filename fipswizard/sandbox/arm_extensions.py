"""VM extensions: PUT / GET / DELETE / list, run by the simulated guest agent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fipswizard.sandbox.arm_runcommand import RUNNING, agent_unreachable
from fipswizard.sandbox.extension_run import run_extension
from fipswizard.sandbox.model import Extension, Operation, VirtualMachine, normalise_location
from fipswizard.sandbox.operations import async_headers, schedule
from fipswizard.sandbox.views import extension_json
from fipswizard.sandbox.wire import ArmError, Request, Response, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

NOT_RUNNING = "Cannot modify extensions in the VM when the VM is not running."
HANDLED_KEYS = {
    "publisher",
    "type",
    "typeHandlerVersion",
    "settings",
    "protectedSettings",
    "provisioningState",
    "instanceView",
}


def _find(vm: VirtualMachine, name: str) -> Extension:
    ext = vm.extensions.get(name.lower())
    if ext is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Compute/virtualMachines/{vm.name}/extensions/"
            f"{name}' under resource group '{vm.resource_group}' was not found.",
        )
    return ext


def list_extensions(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    return json_response(200, {"value": [extension_json(vm, e) for e in vm.extensions.values()]})


def get_extension(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    expand = req.query.get("$expand", "").lower() == "instanceview"
    return json_response(200, extension_json(vm, _find(vm, p["ext"]), instance_view=expand))


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ArmError(400, "InvalidParameter", f"'{name}' must be a JSON object.")
    return value


def put_extension(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    body = req.json_object()
    if body.get("location") and (
        normalise_location(str(body["location"])) != normalise_location(vm.location)
    ):
        raise ArmError(
            400,
            "InvalidParameter",
            f"The extension location must be the VM location '{vm.location}'.",
        )
    props = _object(body.get("properties"), "properties")
    for key in ("publisher", "type", "typeHandlerVersion"):
        if not isinstance(props.get(key), str) or not props[key]:
            raise ArmError(
                400, "InvalidParameter", f"Required parameter '{key}' is missing (null)."
            )
    if vm.power_state not in RUNNING:
        raise ArmError(409, "OperationNotAllowed", NOT_RUNNING)
    name = p["ext"]
    full_type = f"{props['publisher']}.{props['type']}".lower()
    for other in vm.extensions.values():
        if other.full_type.lower() == full_type and other.name.lower() != name.lower():
            raise ArmError(
                400,
                "BadRequest",
                "Multiple VMExtensions per handler not supported for OS type 'Linux'. "
                f"VMExtension '{other.name}' with handler '{other.full_type}' already "
                "added or specified in input.",
            )
    protected = _object(props.get("protectedSettings"), "protectedSettings")
    existing = vm.extensions.get(name.lower())
    ext = Extension(
        name=existing.name if existing else name,
        publisher=props["publisher"],
        type=props["type"],
        type_handler_version=props["typeHandlerVersion"],
        settings=_object(props.get("settings"), "settings"),
        extra={k: v for k, v in props.items() if k not in HANDLED_KEYS},
        tags={str(k): str(v) for k, v in _object(body.get("tags"), "tags").items()},
        provisioning_state="Updating" if existing else "Creating",
        statuses=existing.statuses if existing else [],
        substatuses=existing.substatuses if existing else [],
        has_protected=bool(protected),
        protected=protected or None,
    )
    vm.extensions[name.lower()] = ext

    def done(t: float, op: Operation) -> None:
        if vm.extensions.get(name.lower()) is not ext:
            return  # replaced or deleted meanwhile; that newer operation reports
        if vm.power_state != "running" or not vm.guest.agent_ready():
            message = agent_unreachable(vm)
            ext.provisioning_state, ext.protected = "Failed", None
            op.fail("VMAgentStatusCommunicationError", message, 409)
            return
        result = run_extension(vm, ext)
        ext.protected = None  # drop protected values as soon as the handler ran
        ext.provisioning_state = "Succeeded" if result.ok else "Failed"
        ext.statuses, ext.substatuses = result.statuses, result.substatuses
        if result.ok:
            if vm.provisioning_state == "Failed":
                vm.provisioning_state = "Succeeded"
            return
        vm.provisioning_state = "Failed"
        op.fail(
            "VMExtensionProvisioningError",
            f"VM has reported a failure when processing extension '{ext.name}' (publisher "
            f"'{ext.publisher}' and type '{ext.type}'). Error message: '{result.message}'. "
            "More information on troubleshooting is available at "
            "https://aka.ms/VMExtensionLinuxTroubleshoot. ",
        )

    op = schedule(az, vm, "extension", done)
    return json_response(
        200 if existing else 201, extension_json(vm, ext), async_headers(az, req, op)
    )


def delete_extension(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    ext = vm.extensions.get(p["ext"].lower())
    if ext is None:
        return Response(204, {})
    if vm.power_state not in RUNNING:
        raise ArmError(409, "OperationNotAllowed", NOT_RUNNING)
    ext.provisioning_state, ext.protected = "Deleting", None

    def done(t: float, op: Operation) -> None:
        if vm.extensions.get(p["ext"].lower()) is ext:
            del vm.extensions[p["ext"].lower()]

    op = schedule(az, vm, "extension-delete", done)
    return Response(202, async_headers(az, req, op, location=True))
