"""Checks per VM (control plane, agent, extensions, guest) and the claim level per live module.

Check ids are stable (FIPS-CP-001 ...) so uuid5(VM id, check id) names the same check across
bundles. Results use Heimdall's vocabulary (pass / fail / not-reviewed / informational).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fipswizard.evidence.catalog import (
    HISTORICAL,
    IN_PROCESS,
    NONE,
    UPDATE_STREAM,
    VALIDATED,
    VALIDATED_INTERIM,
    Catalog,
    Claim,
    assess,
)
from fipswizard.evidence.collect import NOT_OFFERED, SubscriptionFacts, VmEvidence
from fipswizard.versions import MIN_AGENT, older

PASS, FAIL, NOT_REVIEWED, INFO = "pass", "fail", "not-reviewed", "informational"
# Weakest first wins the VM's overall level.
LEVEL_ORDER = (VALIDATED, VALIDATED_INTERIM, UPDATE_STREAM, IN_PROCESS, HISTORICAL, NONE)
LEVEL_LABEL = {
    VALIDATED: "validated",
    VALIDATED_INTERIM: "validated, interim",
    UPDATE_STREAM: "update stream",
    IN_PROCESS: "module in process",
    HISTORICAL: "historical",
    NONE: "none (FIPS mode only)",
}
NIST_REFS = ("SC-13", "IA-7")  # SP 800-53r5: cryptographic protection, module authentication


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    layer: str  # control-plane | agent | extension | guest | assessment
    result: str
    expected: str
    observed: str
    how: str  # the exact ARM call or guest command
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "layer": self.layer,
            "result": self.result,
            "expected": self.expected,
            "observed": self.observed,
            "how": self.how,
            "note": self.note,
            "nist": list(NIST_REFS),
        }


@dataclass
class VmAssessment:
    ev: VmEvidence
    checks: list[Check] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    run_steps: list[dict[str, Any]] = field(default_factory=list)  # from the journal

    @property
    def level(self) -> str:
        if not self.claims:
            return NONE
        return max((c.level for c in self.claims), key=LEVEL_ORDER.index)

    @property
    def label(self) -> str:
        if self.ev.guest is None:
            return "not assessed (no guest facts)"
        return LEVEL_LABEL[self.level]


def _vm_get(ev: VmEvidence) -> str:
    return f"GET {ev.target.vm_path}?$expand=instanceView&api-version={ev.api_version}"


def vm_checks(ev: VmEvidence, sub: SubscriptionFacts | None) -> list[Check]:
    out: list[Check] = []
    if sub is not None:
        ok = sub.feature_state == "Registered"
        out.append(
            Check(
                "FIPS-CP-001",
                "Subscription feature Microsoft.Compute/OptInToFips1403Compliance registered",
                "control-plane",
                INFO if sub.feature_state == NOT_OFFERED else (PASS if ok else FAIL),
                "Registered",
                sub.feature_state,
                f"GET .../providers/Microsoft.Features/providers/Microsoft.Compute/features/"
                f"OptInToFips1403Compliance?api-version={sub.feature_api}",
            )
        )
    if ev.error is not None:
        out.append(
            Check("FIPS-CP-002", "VM model readable", "control-plane", FAIL, "a VM", ev.error,
                  _vm_get(ev))
        )  # fmt: skip
        return out
    flag = bool(ev.facts.get("flag"))
    out.append(
        Check(
            "FIPS-CP-002",
            "VM flag additionalCapabilities.enableFips1403Encryption",
            "control-plane",
            PASS if flag else FAIL,
            "true",
            str(flag).lower(),
            _vm_get(ev),
        )
    )
    region_result = {"known-supported": PASS, "known-unsupported": FAIL}.get(
        ev.region, NOT_REVIEWED
    )
    out.append(
        Check(
            "FIPS-CP-003",
            "Region has the FIPS 140-3 platform change",
            "control-plane",
            region_result,
            "known supported",
            ev.region_detail,
            "fipswizard region table (recipes/regions.toml)",
        )
    )
    g = ev.guest
    version = (g.agent_goal_state if g and g.agent_goal_state else "") or str(
        ev.facts.get("agent_version", "")
    )
    ready = bool(ev.facts.get("agent_ready"))
    agent_ok = ready and bool(version) and not older(version)
    out.append(
        Check(
            "FIPS-AGT-001",
            f"VM agent Ready, goal-state version at least {MIN_AGENT}",
            "agent",
            PASS if agent_ok else FAIL,
            f"Ready, >= {MIN_AGENT}",
            f"{ev.facts.get('agent_status', 'unknown')}, goal state {version or 'unknown'}"
            + (f", daemon {g.agent_daemon}" if g and g.agent_daemon else ""),
            _vm_get(ev) + (" and waagent --version (probe)" if g else ""),
        )
    )
    if g is not None:
        out.append(
            Check(
                "FIPS-AGT-002",
                "Agent auto-update on (AutoUpdate.Enabled, UpdateToLatestVersion)",
                "agent",
                PASS if g.autoupdate_on else FAIL,
                "on",
                f"Enabled={g.autoupdate_enabled or '(default y)'}, "
                f"UpdateToLatestVersion={g.autoupdate_latest or '(default)'}",
                "/etc/waagent.conf (probe)",
            )
        )
    exts = ev.extensions
    bad = [e for e in exts if "succeeded" not in e["status"].lower()]
    out.append(
        Check(
            "FIPS-EXT-001",
            "Extensions report success (status and handler version; settings never read)",
            "extension",
            NOT_REVIEWED if not exts else (FAIL if bad else PASS),
            "every extension Provisioning succeeded",
            "; ".join(f"{e['name']} {e['handler_version']}: {e['status']}" for e in exts)
            or "no extension on the VM",
            _vm_get(ev),
        )
    )
    if g is None:
        out.append(
            Check("FIPS-GST-001", "Guest kernel in FIPS mode", "guest", NOT_REVIEWED, "1",
                  ev.guest_error or "guest not probed (status without --guest)", "probe")
        )  # fmt: skip
        return out
    out.append(
        Check(
            "FIPS-GST-001",
            "Guest kernel in FIPS mode",
            "guest",
            PASS if g.fips_enabled == "1" else FAIL,
            "1",
            g.fips_enabled or "absent",
            "cat /proc/sys/crypto/fips_enabled (probe)",
        )
    )
    out.append(
        Check(
            "FIPS-GST-002",
            "fips=1 on the kernel command line",
            "guest",
            PASS if g.cmdline_fips == "1" else FAIL,
            "fips=1",
            f"fips={g.cmdline_fips}" if g.cmdline_fips else "no fips= word",
            "cat /proc/cmdline (probe)",
        )
    )
    if g.tuxcare_registered is not None:
        out.append(
            Check(
                "FIPS-GST-005",
                "TuxCare ESU registration (the source of the FIPS-validated 9.2 packages)",
                "guest",
                PASS if g.tuxcare_registered else FAIL,
                "registered",
                "registered" if g.tuxcare_registered else "not registered",
                "tuxctl -v exit status; its text, which holds the token, is not kept (probe)",
            )
        )
    if g.md5 is not None:
        out.append(
            Check(
                "FIPS-GST-004",
                "OpenSSL refuses MD5 (the FIPS provider is the one in use)",
                "guest",
                PASS if g.md5 == "refused" else FAIL,
                "refused",
                g.md5,
                "openssl md5 </dev/null (probe)",
            )
        )
    return out


def how_enabled(ev: VmEvidence, run_steps: list[dict[str, Any]]) -> Check | None:
    """RHEL's compliance content (scap-security-guide) treats FIPS enabled after installation
    as a finding: Red Hat supports install-time enablement (fips=1 at install) only."""
    g = ev.guest
    if g is None or g.fips_enabled != "1":
        return None
    by_run = any(
        s.get("status") == "applied" and "fips" in str(s.get("step_id")) for s in run_steps
    )
    if by_run:
        observed = "enabled after installation by this fipswizard run"
    else:
        observed = "already on when observed (how it was enabled is not in this evidence)"
    note = ""
    if g.rhel_family and by_run:
        note = (
            "Deviation: enabled post-install via fips-mode-setup/crypto policies; RHEL's "
            "compliance content reports post-install enablement as a finding (Red Hat "
            "supports FIPS mode set at installation)."
        )
    return Check(
        "FIPS-GST-003",
        "How FIPS mode was enabled",
        "guest",
        INFO,
        "install-time where the vendor requires it",
        observed,
        "the run's journal",
        note,
    )


def assess_vm(
    ev: VmEvidence,
    sub: SubscriptionFacts | None,
    catalog: Catalog,
    today: date,
    run_steps: list[dict[str, Any]] | None = None,
) -> VmAssessment:
    out = VmAssessment(ev, vm_checks(ev, sub), run_steps=list(run_steps or []))
    g = ev.guest
    if g is None:
        return out
    extra = how_enabled(ev, out.run_steps)
    if extra is not None:
        out.checks.append(extra)
    os_key = f"{g.os_id} {g.os_version}"
    fips_on = g.fips_enabled == "1"
    out.claims.append(
        assess(
            catalog,
            "openssl",
            os_key,
            g.openssl_fips_name or "",
            g.openssl_fips_version or "",
            today,
            fips_on=fips_on,
        )
    )
    kernel_version = g.kernel_fips_version or g.kernel
    out.claims.append(
        assess(
            catalog, "kernel", os_key, g.kernel_fips_name or "", kernel_version, today,
            fips_on=fips_on,
        )
    )  # fmt: skip
    for n, claim in enumerate(out.claims, 1):
        result = PASS if claim.level in (VALIDATED, VALIDATED_INTERIM, UPDATE_STREAM) else FAIL
        out.checks.append(
            Check(
                f"FIPS-MOD-00{n}",
                f"CMVP status of the live {claim.kind} module",
                "assessment",
                result,
                "a module covered by an Active CMVP certificate (or its update stream)",
                f"{claim.observed_name or claim.kind} {claim.observed_version}: {claim.wording}",
                "openssl list -providers (probe)" if claim.kind == "openssl" else "uname -r",
                "; ".join(claim.warnings),
            )
        )
    return out
