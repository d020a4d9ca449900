"""The ARM URL table: path patterns (case-insensitive literals), methods, api-versions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fipswizard.sandbox import arm_extensions as ext
from fipswizard.sandbox import arm_list
from fipswizard.sandbox import arm_managed_runcommand as mrc
from fipswizard.sandbox import arm_subscriptions as subs
from fipswizard.sandbox import arm_vms as vms
from fipswizard.sandbox.arm_actions import power_action
from fipswizard.sandbox.arm_graph import query_resources
from fipswizard.sandbox.arm_runcommand import run_command
from fipswizard.sandbox.operations import get_operation
from fipswizard.sandbox.wire import ArmError, Request, Response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

Handler = Callable[["SandboxAzure", Request, dict[str, str]], Response]

API_VERSIONS = {
    "compute": (
        "2023-03-01",
        "2023-07-01",
        "2023-09-01",
        "2024-03-01",
        "2024-07-01",
        "2024-11-01",
        "2025-04-01",
        "2025-11-01",
        "2026-03-01",
        "2026-04-01",
    ),
    "features": ("2015-12-01", "2021-07-01", "2025-03-01"),
    "resourcegraph": ("2021-03-01", "2022-10-01", "2024-04-01"),
    "resources": (
        "2020-01-01",
        "2021-04-01",
        "2022-01-01",
        "2022-09-01",
        "2022-12-01",
        "2024-03-01",
        "2024-11-01",
        "2025-04-01",
    ),
}


def vm_action(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    if p["action"].lower() == "runcommand":
        return run_command(az, req, p)
    return power_action(az, req, p)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    api: str
    handler: Handler


def _r(method: str, pattern: str, api: str, handler: Handler) -> Route:
    return Route(method, tuple(pattern.lower().split("/")), api, handler)


_SUB = "subscriptions/{sub}"
_FEAT = _SUB + "/providers/microsoft.features/providers/{ns}/features"
_VMS = _SUB + "/resourcegroups/{rg}/providers/microsoft.compute/virtualmachines"
_VM = _VMS + "/{vm}"

ROUTES = [
    _r("GET", "subscriptions", "resources", subs.list_subscriptions),
    _r("GET", _SUB, "resources", subs.get_subscription),
    _r("GET", _SUB + "/resourcegroups", "resources", subs.list_resource_groups),
    _r("GET", _FEAT, "features", subs.list_features),
    _r("GET", _SUB + "/providers/microsoft.features/features", "features", subs.list_features),
    _r("GET", _FEAT + "/{feature}", "features", subs.get_feature),
    _r("POST", _FEAT + "/{feature}/register", "features", subs.register_feature),
    _r("POST", _FEAT + "/{feature}/unregister", "features", subs.unregister_feature),
    _r("GET", _SUB + "/providers/{ns}", "resources", subs.get_provider),
    _r("POST", _SUB + "/providers/{ns}/register", "resources", subs.register_provider),
    _r("GET", _SUB + "/providers/microsoft.compute/virtualmachines", "compute", arm_list.list_vms),
    _r(
        "GET",
        _SUB + "/providers/microsoft.compute/locations/{loc}/operations/{op}",
        "compute",
        get_operation,
    ),
    _r("GET", _VMS, "compute", arm_list.list_vms),
    _r("POST", "providers/microsoft.resourcegraph/resources", "resourcegraph", query_resources),
    _r(
        "GET",
        _SUB + "/resourcegroups/{rg}/providers/microsoft.compute/virtualmachinescalesets/{vmss}"
        "/virtualmachines",
        "compute",
        arm_list.list_scale_set_vms,
    ),
    _r("GET", _VM, "compute", vms.get_vm),
    _r("PUT", _VM, "compute", vms.put_vm),
    _r("PATCH", _VM, "compute", vms.patch_vm),
    _r("GET", _VM + "/instanceview", "compute", vms.get_instance_view),
    _r("POST", _VM + "/{action}", "compute", vm_action),
    _r("GET", _VM + "/extensions", "compute", ext.list_extensions),
    _r("GET", _VM + "/extensions/{ext}", "compute", ext.get_extension),
    _r("PUT", _VM + "/extensions/{ext}", "compute", ext.put_extension),
    _r("DELETE", _VM + "/extensions/{ext}", "compute", ext.delete_extension),
    _r("GET", _VM + "/runcommands", "compute", mrc.list_run_commands),
    _r("GET", _VM + "/runcommands/{rc}", "compute", mrc.get_run_command),
    _r("PUT", _VM + "/runcommands/{rc}", "compute", mrc.put_run_command),
    _r("DELETE", _VM + "/runcommands/{rc}", "compute", mrc.delete_run_command),
]


def _match(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, segments, strict=True):
        if want.startswith("{"):
            params[want[1:-1]] = got
        elif want != got.lower():
            return None
    return params


def resolve(req: Request) -> tuple[Route, dict[str, str]]:
    """Find the route for a request, and check its api-version."""
    segments = req.segments
    allowed: list[str] = []
    for route in ROUTES:
        params = _match(route.pattern, segments)
        if params is None:
            continue
        if route.method != req.method:
            allowed.append(route.method)
            continue
        _check_api_version(req, route.api)
        return route, params
    if allowed:
        raise ArmError(
            405,
            "MethodNotAllowed",
            f"The HTTP method '{req.method}' is not supported for '{req.path}'; "
            f"allowed: {', '.join(sorted(set(allowed)))}.",
            {"Allow": ", ".join(sorted(set(allowed)))},
        )
    raise ArmError(404, "InvalidResourceType", f"The sandbox has no resource at '{req.path}'.")


def _check_api_version(req: Request, api: str) -> None:
    version = req.query.get("api-version")
    if not version:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if version not in API_VERSIONS[api]:
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are "
            f"'{','.join(API_VERSIONS[api])}'.",
        )
