"""`fipswizard status`: where each VM stands, read-only (engine side; no front end here).

A verdict per VM: "compliant", "needs flag", "needs guest", or "blocked: why" (a VM of a
Flexible scale set: "blocked: scale-set VM, not supported: ..." with the source). Without
--guest only the control plane is known, so "compliant" there means the flag is set and the
agent is Ready (the guest column says "not checked"). Exit code: 0 when every VM is compliant,
1 otherwise (2 bad input, 3 authentication, as for every command).
"""

from __future__ import annotations

import json
from typing import Any

from fipswizard.azure.selection import scale_set_of, scale_set_reason
from fipswizard.evidence.collect import FEATURE_OK, Fleet, VmEvidence
from fipswizard.versions import older

COMPLIANT, NEEDS_FLAG, NEEDS_GUEST = "compliant", "needs flag", "needs guest"
SCALE_SET_VERDICT = "blocked: scale-set VM"
COLUMNS = ("VM", "Region", "Feature", "Flag", "Power", "Agent", "Extensions", "OS", "Guest FIPS",
           "Provider", "Verdict")  # fmt: skip


def verdict(ev: VmEvidence, feature_state: str) -> str:
    if ev.error is not None:
        return f"blocked: {ev.error}"
    scale_set = scale_set_of(ev.model)  # never written: the reason carries Microsoft's source
    if scale_set:
        return f"{SCALE_SET_VERDICT}, {scale_set_reason(scale_set)}"
    if ev.region == "known-unsupported":
        return f"blocked: region {ev.facts.get('location')} does not have the platform change"
    if not ev.facts.get("agent_ready"):
        return f"blocked: VM agent {ev.facts.get('agent_status', 'unknown')}"
    g = ev.guest
    if g is None and ev.guest_error and "not probed" not in ev.guest_error:
        return f"blocked: {ev.guest_error}"
    if feature_state not in FEATURE_OK or not ev.facts.get("flag"):
        return NEEDS_FLAG  # the control plane first, as a run does it
    if g is not None:
        goal = g.agent_goal_state or ""
        if g.fips_enabled != "1" or not g.autoupdate_on or (goal and older(goal)):
            return NEEDS_GUEST
    return COMPLIANT


def status_rows(fleet: Fleet) -> list[dict[str, Any]]:
    rows = []
    for ev in fleet.vms:
        sub = fleet.subscriptions.get(ev.target.subscription)
        feature = sub.feature_state if sub else "unknown"
        g = ev.guest
        f = ev.facts
        rows.append(
            {
                "vm": ev.name,
                "id": ev.target.vm_path,
                "region": f"{f.get('location', '?')} ({ev.region or 'unread'})",
                "feature": feature,
                "flag": "unread" if ev.error else ("on" if f.get("flag") else "off"),
                "power": f.get("power_state", "unknown"),
                "agent": f"{f.get('agent_status', 'unknown')} {f.get('agent_version', '')}".strip(),
                "extensions": len(ev.extensions),
                "os": g.describe if g else f.get("os_name") or "not checked",
                "guest_fips": g.fips_state if g else _unprobed(ev.guest_error),
                "provider": (
                    f"{g.openssl_fips_name} {g.openssl_fips_version}"
                    if g and g.openssl_fips_version
                    else ("none loaded" if g else "not checked")
                ),
                "verdict": verdict(ev, feature),
            }
        )  # fmt: skip
    return rows


def _unprobed(error: str | None) -> str:
    if error is None:
        return "not checked"
    return "not probed" if error.startswith("not probed") else "probe failed"


def status_exit(rows: list[dict[str, Any]]) -> int:
    return 0 if all(r["verdict"] == COMPLIANT for r in rows) else 1


def status_json(rows: list[dict[str, Any]], guest: bool) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        key = r["verdict"].split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    return json.dumps({"guest_checked": guest, "vms": rows, "counts": counts}, indent=2,
                      sort_keys=True) + "\n"  # fmt: skip


def status_text(rows: list[dict[str, Any]]) -> str:
    keys = ("vm", "region", "feature", "flag", "power", "agent", "extensions", "os",
            "guest_fips", "provider", "verdict")  # fmt: skip
    table = [list(COLUMNS)] + [[str(r[k]) for k in keys] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(keys))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in table]  # fmt: skip
    done = sum(r["verdict"] == COMPLIANT for r in rows)
    lines.append(f"{done} of {len(rows)} VMs compliant")
    return "\n".join(lines) + "\n"
