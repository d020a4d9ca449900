"""The sandbox's own control API under /_sandbox/ (no auth, no faults, not logged).

GET  /_sandbox/requests[?since=SEQ]  the request log (list of entries)
POST /_sandbox/reset-log             empty the request log
GET  /_sandbox/state                 VMs, features, guests (never protected settings)
GET  /_sandbox/scenarios             VM name -> the situation it models
GET  /_sandbox/faults                current fault, throttle and timing settings
POST /_sandbox/faults                change them: any of fault_rate, fault_status, drop_rate,
                                     drop_phase, latency, seed, rules, read_rate, read_burst,
                                     write_rate, write_burst, read_retry_after,
                                     write_retry_after, op_seconds, registration_seconds,
                                     and the answer modes poll_hints, feature_state_case,
                                     provider_seconds (faults.py)
POST /_sandbox/advance               {"seconds": S}: move sandbox time forward
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fipswizard.sandbox.wire import Request, Response, error_body, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

THROTTLE_KEYS = {
    "read_rate": ("reads", "rate"),
    "read_burst": ("reads", "burst"),
    "write_rate": ("writes", "rate"),
    "write_burst": ("writes", "burst"),
    "read_retry_after": ("reads", "retry_after"),
    "write_retry_after": ("writes", "retry_after"),
}
TIMING_KEYS = ("op_seconds", "registration_seconds")


def handle(az: SandboxAzure, req: Request) -> Response:
    az.scheduler.settle(az.now())
    name = "/".join(req.segments[1:]).lower()
    try:
        if (req.method, name) == ("GET", "requests"):
            return json_response(200, az.log.entries(int(req.query.get("since", "0") or 0)))
        if (req.method, name) == ("POST", "reset-log"):
            return json_response(200, {"cleared": az.log.clear()})
        if (req.method, name) == ("GET", "state"):
            return json_response(200, state(az))
        if (req.method, name) == ("GET", "scenarios"):
            return json_response(200, az.estate.scenarios)
        if (req.method, name) == ("GET", "faults"):
            return json_response(200, settings(az))
        if (req.method, name) == ("POST", "faults"):
            update_settings(az, _body(req))
            return json_response(200, settings(az))
        if (req.method, name) == ("POST", "advance"):
            seconds = float(_body(req).get("seconds", 0))
            if seconds < 0:
                raise ValueError("seconds must be >= 0")
            az.skew += seconds
            az.scheduler.settle(az.now())
            return json_response(200, {"elapsed": az.elapsed()})
    except (ValueError, TypeError) as exc:
        return json_response(400, error_body("InvalidSandboxRequest", str(exc)))
    return json_response(
        404, error_body("NotFound", f"no sandbox endpoint {req.method} {req.path}")
    )


def _body(req: Request) -> dict[str, Any]:
    data = json.loads(req.body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def settings(az: SandboxAzure) -> dict[str, Any]:
    reads, writes = az.throttle.specs["reads"], az.throttle.specs["writes"]
    return {
        **az.faults.describe(),
        "read_rate": reads.rate,
        "read_burst": reads.burst,
        "write_rate": writes.rate,
        "write_burst": writes.burst,
        "read_retry_after": reads.retry_after,
        "write_retry_after": writes.retry_after,
        "op_seconds": az.op_seconds,
        "registration_seconds": az.registration_seconds,
    }


def update_settings(az: SandboxAzure, changes: dict[str, Any]) -> None:
    fault_changes = {
        k: v for k, v in changes.items() if k not in THROTTLE_KEYS and k not in TIMING_KEYS
    }
    for key in (*TIMING_KEYS, *THROTTLE_KEYS):
        if key in changes and float(changes[key]) < 0:
            raise ValueError(f"{key} must be >= 0")
    az.faults.update(fault_changes)  # validates everything it owns before changing anything
    for key in TIMING_KEYS:
        if key in changes:
            setattr(az, key, float(changes[key]))
    for key, (kind, field) in THROTTLE_KEYS.items():
        if key in changes:
            az.throttle.configure(kind, **{field: float(changes[key])})


def state(az: SandboxAzure) -> dict[str, Any]:
    """A JSON dump for tests and the demo. Protected settings are never part of the model
    after the extension ran, and are left out before."""
    subs = {
        sub.id: {
            "display_name": sub.display_name,
            "resource_groups": sorted(sub.resource_groups.values()),
            "provider_registered": sub.provider_registered_at != float("-inf"),
            "features": {f.name: f.state for f in sub.features.values()},
        }
        for sub in az.estate.subscriptions.values()
    }
    vms = {
        vm.name: {
            "id": vm.id,
            "subscription": vm.subscription,
            "resource_group": vm.resource_group,
            "location": vm.location,
            "fips_flag": vm.fips_flag,
            "cert_package": vm.cert_package,
            "package_pending": vm.package_pending,
            "power_state": vm.power_state,
            "provisioning_state": vm.provisioning_state,
            "public_ip": vm.public_ip,
            "public_ip_dynamic": vm.public_ip_dynamic,
            "etag": vm.etag,
            "agent_ready": vm.guest.agent_ready() and vm.power_state == "running",
            "image": dict(vm.props.get("storageProfile", {}).get("imageReference", {})),
            "extensions": {
                e.name: {
                    "type": e.full_type,
                    "provisioning_state": e.provisioning_state,
                    "has_protected_settings": e.has_protected,
                }
                for e in vm.extensions.values()
            },
            "scenario": vm.scenario,
        }
        for vm in az.estate.vms.values()
    }
    in_progress = sum(1 for op in az.operations.values() if op.status == "InProgress")
    return {
        "elapsed": az.elapsed(),
        "subscriptions": subs,
        "features": {sub_id: info["features"] for sub_id, info in subs.items()},
        "unsupported_regions": sorted(az.estate.unsupported_regions),
        "vms": vms,
        "guests": {vm.name: vm.guest.snapshot() for vm in az.estate.vms.values()},
        "operations": {"total": len(az.operations), "in_progress": in_progress},
    }
