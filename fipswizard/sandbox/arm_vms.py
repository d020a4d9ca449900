"""Virtual machines: list, GET (with instance view), PUT and PATCH with partial-body merge."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fipswizard.sandbox.arm_subscriptions import fips_feature_block
from fipswizard.sandbox.model import VirtualMachine, normalise_location
from fipswizard.sandbox.operations import async_headers, schedule
from fipswizard.sandbox.views import instance_view_json, vm_json
from fipswizard.sandbox.wire import ArmError, Request, Response, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

REGION_REFUSED = (
    "Creation of VMs using a Fips 140-3 compliant encryption for extension "
    "settings isn't supported in this region."
)
READ_ONLY = {"provisioningState", "vmId", "instanceView", "timeCreated"}


def list_vms(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub = az.subscription(p["sub"])
    group = az.resource_group(sub, p["rg"]) if "rg" in p else None
    iso = az.iso(az.now())
    value = [
        vm_json(vm, iso)
        for vm in az.estate.vms.values()
        if vm.subscription.lower() == sub.id.lower()
        and (group is None or vm.resource_group.lower() == group.lower())
    ]
    return json_response(200, {"value": value})


def get_vm(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    if vm.bad_reads:
        bad = vm.bad_reads.pop(0)
        if isinstance(bad, bytes):
            return Response(200, {"Content-Type": "application/json; charset=utf-8"}, bad)
        return json_response(200, bad)
    expand = req.query.get("$expand", "").lower() == "instanceview"
    return json_response(
        200, vm_json(vm, az.iso(az.now()), instance_view=expand), {"ETag": vm.etag}
    )


def get_instance_view(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    vm = az.find_vm(p)
    return json_response(200, instance_view_json(vm, az.iso(az.now())))


def put_vm(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    return _update(az, req, p, is_put=True)


def patch_vm(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    return _update(az, req, p, is_put=False)


def check_preconditions(req: Request, vm: VirtualMachine) -> None:
    if_match = req.headers.get("if-match")
    if if_match is not None and if_match.strip() != "*":
        wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
        if vm.etag.strip('"') not in wanted:
            raise ArmError(
                412,
                "PreconditionFailed",
                f"The specified precondition 'If-Match = {if_match}' failed: the "
                f"current ETag of '{vm.name}' is {vm.etag}.",
            )
    if req.headers.get("if-none-match", "").strip() == "*":
        raise ArmError(
            412,
            "PreconditionFailed",
            f"The specified precondition 'If-None-Match = *' failed: virtual machine "
            f"'{vm.name}' already exists.",
        )


def _update(az: SandboxAzure, req: Request, p: dict[str, str], *, is_put: bool) -> Response:
    vm = az.find_vm(p)
    body = req.json_object()
    location = body.get("location")
    if is_put and not location:
        raise ArmError(
            400, "LocationRequired", "The location property is required for this definition."
        )
    if location and normalise_location(str(location)) != normalise_location(vm.location):
        raise ArmError(
            400,
            "InvalidResourceLocation",
            f"The resource '{vm.name}' already exists in location '{vm.location}' in "
            f"resource group '{vm.resource_group}'. A resource with the same name "
            f"cannot be created in location '{location}'. Please select a new "
            "resource name.",
        )
    check_preconditions(req, vm)
    patch = body.get("properties") or {}
    if not isinstance(patch, dict):
        raise ArmError(400, "InvalidRequestContent", "'properties' must be a JSON object.")
    patch = {k: v for k, v in copy.deepcopy(patch).items() if k not in READ_ONLY}
    if _normalise_fips_flag(patch) is True:
        if normalise_location(vm.location) in az.estate.unsupported_regions:
            raise ArmError(400, "BadRequest", REGION_REFUSED)
        blocked = fips_feature_block(az, az.subscription(vm.subscription))
        if blocked:
            raise ArmError(400, "OperationNotAllowed", blocked)
    _validate_secrets(patch)
    old_secrets = vm.secrets
    deep_merge(vm.props, patch)
    if isinstance(body.get("tags"), dict):
        vm.tags = {str(k): str(v) for k, v in body["tags"].items()}
    vm.etag_version += 1
    vm.provisioning_state = "Updating"
    # A changed Key Vault certificate list makes the platform issue a new certificate package.
    new_package = vm.secrets != old_secrets

    def done(t: float, op: object) -> None:
        vm.provisioning_state = "Succeeded"
        if new_package:
            vm.regenerate_package()

    op = schedule(az, vm, "put-vm" if is_put else "patch-vm", done, serial=False)
    return json_response(
        200, vm_json(vm, az.iso(az.now())), {**async_headers(az, req, op), "ETag": vm.etag}
    )


def _normalise_fips_flag(patch: dict[str, Any]) -> bool | None:
    caps = patch.get("additionalCapabilities")
    if caps is None:
        return None
    if not isinstance(caps, dict):
        raise ArmError(400, "InvalidParameter", "'additionalCapabilities' must be an object.")
    if "enableFips1403Encryption" not in caps:
        return None
    value = caps["enableFips1403Encryption"]
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not isinstance(value, bool):
        raise ArmError(
            400,
            "InvalidParameter",
            "The value of parameter 'additionalCapabilities.enableFips1403Encryption' "
            f"is invalid: expected a boolean, got {value!r}.",
        )
    caps["enableFips1403Encryption"] = value
    return value


def _validate_secrets(patch: dict[str, Any]) -> None:
    secrets = (patch.get("osProfile") or {}).get("secrets")
    if secrets is None:
        return
    if not isinstance(secrets, list):
        raise ArmError(400, "InvalidParameter", "'osProfile.secrets' must be an array.")
    for i, group in enumerate(secrets):
        vault = (group or {}).get("sourceVault", {}) if isinstance(group, dict) else {}
        certs = group.get("vaultCertificates") if isinstance(group, dict) else None
        if not isinstance(vault, dict) or not vault.get("id"):
            raise ArmError(
                400,
                "InvalidParameter",
                f"Required parameter 'osProfile.secrets[{i}].sourceVault.id' is missing.",
            )
        if not isinstance(certs, list) or not all(
            isinstance(c, dict) and str(c.get("certificateUrl", "")).startswith("https://")
            for c in certs
        ):
            raise ArmError(
                400,
                "InvalidParameter",
                f"'osProfile.secrets[{i}].vaultCertificates' must list objects with an "
                "https 'certificateUrl' (a Key Vault secret URL).",
            )


def deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge like CRP does for a partial PUT: objects merge, arrays and scalars replace,
    null leaves the stored value alone."""
    for key, value in patch.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
