"""VM lists by subscription and by resource group, paged with `nextLink` like Compute.

`VirtualMachines_ListAll` (GET /subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines)
and `VirtualMachines_List` (.../resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines)
answer `{"value": [...], "nextLink": "..."}`; the client follows `nextLink` as given until it
is absent (Azure/azure-rest-api-specs Compute virtualMachine.json, `x-ms-pageable` with
`nextLinkName: nextLink`). The link carries an opaque `$skiptoken`. `VirtualMachines_List`
takes `$filter` whose one documented form is `virtualMachineScaleSet/id eq '<scale set id>'`
(same spec, parameter description), answering the VMs of a Flexible scale set.

Compute does not document its page size; the sandbox pages small (PAGE_SIZE) so that every
client is made to follow links. A token that is not one we issued is refused with 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fipswizard.sandbox.views import vm_json
from fipswizard.sandbox.wire import ArmError, Request, Response, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure
    from fipswizard.sandbox.model import VirtualMachine

PAGE_SIZE = 10


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is not valid.")
    return offset


def _scale_set_filter(req: Request) -> str | None:
    text = req.query.get("$filter")
    if text is None:
        return None
    field, _, value = text.strip().partition(" eq ")
    value = value.strip()
    if field.strip().lower() != "virtualmachinescaleset/id" or not (
        len(value) > 1 and value[0] == value[-1] == "'"
    ):
        raise ArmError(
            400,
            "InvalidParameter",
            f"The value '{text}' of parameter '$filter' is not valid. Allowed value is "
            "\"'virtualMachineScaleSet/id' eq /subscriptions/{subId}/resourceGroups/{rgName}"
            "/providers/Microsoft.Compute/virtualMachineScaleSets/{vmssName}'\".",
        )
    return value[1:-1].lower()


def list_vms(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub = az.subscription(p["sub"])
    group = az.resource_group(sub, p["rg"]) if "rg" in p else None
    scale_set = _scale_set_filter(req) if group is not None else None

    def wanted(vm: VirtualMachine) -> bool:
        return (
            vm.subscription.lower() == sub.id.lower()
            and (group is None or vm.resource_group.lower() == group.lower())
            and (scale_set is None or vm.scale_set_id.lower() == scale_set)
        )

    vms = sorted(
        (vm for vm in az.estate.vms.values() if wanted(vm)),
        key=lambda vm: (vm.resource_group.lower(), vm.name.lower()),
    )
    offset = _offset(req.query["$skiptoken"]) if "$skiptoken" in req.query else 0
    iso = az.iso(az.now())
    body: dict[str, object] = {
        "value": [vm_json(vm, iso) for vm in vms[offset : offset + PAGE_SIZE]]
    }
    if offset + PAGE_SIZE < len(vms):
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = _token(offset + PAGE_SIZE)
        body["nextLink"] = f"{req.base_url}{req.path}?{urlencode(query)}"
    return json_response(200, body)


def scale_set_instance_rows(az: SandboxAzure) -> list[dict[str, object]]:
    """The instances of Uniform scale sets as Resource Graph's ComputeResources table has them
    (type `microsoft.compute/virtualmachinescalesets/virtualmachines`, name `{set}_{id}`)."""
    rows: list[dict[str, object]] = []
    for set_id, instances in sorted(az.estate.uniform_scale_sets.items()):
        parts = set_id.strip("/").split("/")
        for instance in instances:
            rows.append(
                {
                    "id": f"{set_id}/virtualMachines/{instance}",
                    "name": f"{parts[-1]}_{instance}",
                    "type": "microsoft.compute/virtualmachinescalesets/virtualmachines",
                    "subscriptionId": parts[1],
                    "resourceGroup": parts[3].lower(),
                    "properties": {"instanceId": instance},
                }
            )
    return rows


def list_scale_set_vms(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    """VirtualMachineScaleSetVMs_List for a Uniform set (one page: the sandbox's sets are small)."""
    sub = az.subscription(p["sub"])
    group = az.resource_group(sub, p["rg"])
    set_id = next(
        (
            k
            for k in az.estate.uniform_scale_sets
            if k.lower().endswith(
                f"/resourcegroups/{group.lower()}/providers/microsoft.compute"
                f"/virtualmachinescalesets/{p['vmss'].lower()}"
            )
            and f"/subscriptions/{sub.id.lower()}/" in k.lower()
        ),
        None,
    )
    if set_id is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{p['vmss']}' under resource "
            f"group '{p['rg']}' was not found.",
        )
    rows = [r for r in scale_set_instance_rows(az) if str(r["id"]).startswith(set_id + "/")]
    value = [
        {
            "id": r["id"],
            "name": r["name"],
            "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
            "instanceId": r["properties"]["instanceId"],  # type: ignore[index]
            "properties": {"provisioningState": "Succeeded"},
        }
        for r in rows
    ]
    return json_response(200, {"value": value})
