"""JSON shapes of sandbox resources, as ARM returns them (read-only fields included)."""

from __future__ import annotations

import copy
from typing import Any

from fipswizard.sandbox.model import COMPUTE, Extension, Feature, Subscription, VirtualMachine

POWER_DISPLAY = {
    "running": "VM running",
    "deallocated": "VM deallocated",
    "deallocating": "VM deallocating",
    "starting": "VM starting",
    "stopped": "VM stopped",
    "stopping": "VM stopping",
}


def status(
    code: str,
    display: str,
    *,
    level: str = "Info",
    message: str | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "level": level, "displayStatus": display}
    if message is not None:
        out["message"] = message
    if time is not None:
        out["time"] = time
    return out


def feature_json(sub: Subscription, feature: Feature, *, lower: bool = False) -> dict[str, Any]:
    """`lower` answers the state as Microsoft.Features' spec examples do ("registered")."""
    namespace, short = feature.name.split("/", 1)
    return {
        "properties": {"state": feature.state.lower() if lower else feature.state},
        "id": (
            f"/subscriptions/{sub.id}/providers/Microsoft.Features/providers/{namespace}"
            f"/features/{short}"
        ),
        "type": "Microsoft.Features/providers/features",
        "name": feature.name,
    }


def provider_json(
    sub: Subscription, namespace: str, api_versions: list[str], state: str = "Registered"
) -> dict[str, Any]:
    """A Provider (Microsoft.Resources resources.json 2025-04-01, Providers_Get/_Register)."""
    body: dict[str, Any] = {
        "id": f"/subscriptions/{sub.id}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": state,
        "registrationPolicy": "RegistrationRequired",
    }
    if namespace.lower() == COMPUTE.lower():
        body["resourceTypes"] = [
            {"resourceType": "virtualMachines", "apiVersions": api_versions, "capabilities": "None"}
        ]
    return body


def vm_json(vm: VirtualMachine, now_iso: str, *, instance_view: bool = False) -> dict[str, Any]:
    props = copy.deepcopy(vm.props)
    props["vmId"] = vm.vm_id
    props["provisioningState"] = vm.provisioning_state
    if instance_view:
        props["instanceView"] = instance_view_json(vm, now_iso)
    body: dict[str, Any] = {
        "name": vm.name,
        "id": vm.id,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.location,
        "etag": vm.etag,
        "properties": props,
    }
    if vm.tags:
        body["tags"] = dict(vm.tags)
    if vm.extensions:
        body["resources"] = [extension_json(vm, ext) for ext in vm.extensions.values()]
    return body


def _provisioning_status(state: str, now_iso: str) -> dict[str, Any]:
    if state == "Failed":
        return status(
            "ProvisioningState/failed", "Provisioning failed", level="Error", time=now_iso
        )
    if state == "Succeeded":
        return status("ProvisioningState/succeeded", "Provisioning succeeded", time=now_iso)
    return status(f"ProvisioningState/{state.lower()}", state, time=now_iso)


def instance_view_json(vm: VirtualMachine, now_iso: str) -> dict[str, Any]:
    guest = vm.guest
    view: dict[str, Any] = {
        "computerName": vm.props.get("osProfile", {}).get("computerName", vm.name),
        "hyperVGeneration": "V2",
    }
    if guest.running:
        problem = guest.agent_problem()
        if problem is None:
            view["osName"] = guest.agent_os_name
            view["osVersion"] = guest.distro_version
            agent_status = status(
                "ProvisioningState/succeeded",
                "Ready",
                time=now_iso,
                message="GuestAgent is running and accepting new configurations.",
            )
            version = guest.goal_state_version
        else:
            agent_status = status(
                "ProvisioningState/Unavailable",
                "Not Ready",
                level="Warning",
                message="VM Agent is unresponsive.",
                time=now_iso,
            )
            version = "Unknown"
        view["vmAgent"] = {
            "vmAgentVersion": version,
            "statuses": [agent_status],
            "extensionHandlers": [
                {
                    "type": ext.full_type,
                    "typeHandlerVersion": ext.type_handler_version,
                    "status": status("ProvisioningState/succeeded", "Ready"),
                }
                for ext in vm.extensions.values()
                if problem is None
            ],
        }
    disk = vm.props.get("storageProfile", {}).get("osDisk", {}).get("name", f"{vm.name}_OsDisk")
    view["disks"] = [
        {
            "name": disk,
            "statuses": [
                status("ProvisioningState/succeeded", "Provisioning succeeded", time=now_iso)
            ],
        }
    ]
    view["extensions"] = [
        extension_instance_view(ext) for ext in vm.extensions.values() if ext.statuses
    ]
    view["statuses"] = [
        _provisioning_status(vm.provisioning_state, now_iso),
        status(f"PowerState/{vm.power_state}", POWER_DISPLAY.get(vm.power_state, vm.power_state)),
    ]
    return view


def extension_instance_view(ext: Extension) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": ext.name,
        "type": ext.full_type,
        "typeHandlerVersion": ext.type_handler_version,
        "statuses": copy.deepcopy(ext.statuses),
    }
    if ext.substatuses:
        view["substatuses"] = copy.deepcopy(ext.substatuses)
    return view


def extension_json(
    vm: VirtualMachine, ext: Extension, *, instance_view: bool = False
) -> dict[str, Any]:
    props: dict[str, Any] = {
        **copy.deepcopy(ext.extra),
        "publisher": ext.publisher,
        "type": ext.type,
        "typeHandlerVersion": ext.type_handler_version,
        "settings": copy.deepcopy(ext.settings),
        "provisioningState": ext.provisioning_state,
    }
    if instance_view:
        props["instanceView"] = extension_instance_view(ext)
    body: dict[str, Any] = {
        "name": ext.name,
        "id": f"{vm.id}/extensions/{ext.name}",
        "type": "Microsoft.Compute/virtualMachines/extensions",
        "location": vm.location,
        "properties": props,
    }
    if ext.tags:
        body["tags"] = dict(ext.tags)
    return body
