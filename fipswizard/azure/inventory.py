"""Listing what an operator can choose from: subscriptions, resource groups and VMs (GETs only).

Every list follows `nextLink` to the end. A nextLink is only followed on the ARM endpoint
itself, because the bearer token must never be sent to another host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from fipswizard.azure.arm_errors import ArmError
from fipswizard.azure.clouds import same_origin

if TYPE_CHECKING:
    from fipswizard.azure.arm import ArmClient

SUBSCRIPTIONS_API = "2022-12-01"
RESOURCE_GROUPS_API = "2021-04-01"
MAX_PAGES = 1000  # a loop guard: ARM never pages a listing this deep


def _split_next(next_link: str, arm: ArmClient) -> tuple[str, str, dict[str, str]]:
    """(path, api-version, other query) of a nextLink, refusing links off the ARM endpoint."""
    if not same_origin(next_link, arm.endpoint):  # the one definition, in clouds.py
        raise ArmError(
            0,
            "UntrustedNextLink",
            f"ARM paged the listing to {urlsplit(next_link).netloc!r}, which is not "
            f"the ARM endpoint {arm.endpoint}; the bearer token is not sent there",
            advice="check the ARM endpoint setting (--arm-endpoint) and re-run",
        )
    parts = urlsplit(next_link)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    api = query.pop("api-version", "")
    return parts.path, api, query


async def list_all(arm: ArmClient, path: str, api: str, **query: str) -> list[dict[str, Any]]:
    """Every item of an ARM list (`{"value": [...], "nextLink": ...}`), all pages."""
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        resp = await arm.get(path, api, **query)
        body = resp.body if isinstance(resp.body, dict) else {}
        items += [v for v in body.get("value") or [] if isinstance(v, dict)]
        next_link = body.get("nextLink")
        if not next_link:
            return items
        path, next_api, query = _split_next(str(next_link), arm)
        api = next_api or api
    raise ArmError(
        0,
        "TooManyPages",
        f"{path}: more than {MAX_PAGES} pages",
        advice="narrow the listing (a resource group) and retry",
    )


async def list_subscriptions(arm: ArmClient) -> list[dict[str, Any]]:
    """`{"subscriptionId", "displayName", "state"}` for each subscription the token can see."""
    return await list_all(arm, "/subscriptions", SUBSCRIPTIONS_API)


async def list_resource_groups(arm: ArmClient, subscription: str) -> list[dict[str, Any]]:
    return await list_all(arm, f"/subscriptions/{subscription}/resourcegroups", RESOURCE_GROUPS_API)


async def list_vms(
    arm: ArmClient, subscription: str, resource_group: str, api: str
) -> list[dict[str, Any]]:
    """The VM models (no instance view) in one resource group, all pages."""
    path = (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
        "/providers/Microsoft.Compute/virtualMachines"
    )
    return await list_all(arm, path, api)


def vm_row(vm: dict[str, Any]) -> dict[str, str]:
    """The columns the target picker shows for one listed VM."""
    props = vm.get("properties") or {}
    image = (props.get("storageProfile") or {}).get("imageReference") or {}
    caps = props.get("additionalCapabilities") or {}
    flag = caps.get("enableFips1403Encryption") in (True, "true", "True")
    return {
        "name": str(vm.get("name", "")),
        "location": str(vm.get("location", "")),
        "image": " ".join(str(image.get(k, "")) for k in ("offer", "sku")).strip() or "custom",
        "size": str((props.get("hardwareProfile") or {}).get("vmSize", "")),
        "flag": "on" if flag else "off",
    }
