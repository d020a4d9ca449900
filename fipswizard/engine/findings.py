"""Platform preflight verdicts per VM, from the discovered facts and the read-only checks.

Pure functions of (plan, states), in the engine so both front ends show the same verdicts:
`fipswizard plan` prints `verdict_lines` and the TUI's Preflight screen shows the same rows
(`finding_line` is each finding's one rendering). Guest findings (distro, FIPS mode, SSH keys,
...) come later, from the run's guest probe (`Finding` events).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fipswizard.azure.regions import RegionStatus, region_advice
from fipswizard.context import Settings
from fipswizard.engine.events import FINDING_LEVELS
from fipswizard.engine.plan import Plan, Unit, subscription_key
from fipswizard.engine.plan_state import StepState
from fipswizard.versions import older

LEVELS = FINDING_LEVELS


@dataclass(frozen=True)
class Finding:
    level: str  # ok | info | warning | refusal
    text: str


@dataclass(frozen=True)
class VmRow:
    key: str
    vm: str
    region: str
    feature: str
    flag: str
    agent: str
    image: str
    verdict: str
    findings: tuple[Finding, ...]
    checks: tuple[str, ...]  # "<step title>: <state read now>"


def _feature(plan: Plan, states: dict[tuple[str, str], str], subscription: str) -> str:
    """The subscription feature's state, from its check's facts (never from the text)."""
    key = subscription_key(subscription)
    unit = next((u for u in plan.units if u.key == key), None)
    if unit is None:
        return "skipped (recipe)"
    state = states.get((key, unit.steps[0].id))
    if not isinstance(state, StepState) or "previous" not in state.facts:
        return "-"  # not read (offline), or the read failed
    previous = state.facts["previous"]
    return "not needed" if previous is None else str(previous)


def _findings(
    plan: Plan, unit: Unit, facts: dict[str, Any], feature: str, minimum: str
) -> list[Finding]:
    out: list[Finding] = []
    if "error" in facts:
        return [Finding("refusal", f"could not read the VM: {facts['error']}")]
    advice = region_advice(plan.recipe.cloud, str(facts.get("location", "")))
    level = {
        RegionStatus.KNOWN_SUPPORTED: "ok",
        RegionStatus.UNKNOWN: "warning",
        RegionStatus.KNOWN_UNSUPPORTED: "warning",
    }[advice.status]
    out.append(Finding(level, "region " + advice.describe()))
    if feature in ("NotRegistered", "Unregistered", "Registering", "Pending"):
        out.append(
            Finding(
                "info",
                f"subscription feature is {feature}: the run registers it "
                "(can take a while; resumable)",
            )
        )
    out.append(
        Finding("ok", "FIPS flag already on")
        if facts.get("flag")
        else Finding("info", "FIPS flag off: the run sets it (a VM model update)")
    )
    if not facts.get("agent_ready"):
        out.append(
            Finding(
                "refusal",
                f"guest agent is {facts.get('agent_status', 'unknown')}: "
                "Run Command and extensions cannot work until it is Ready",
            )
        )
    version = str(facts.get("agent_version", ""))
    if version and version != "Unknown" and older(version, minimum):
        out.append(
            Finding(
                "warning",
                f"agent {version} is older than {minimum}: extensions "
                "with protected settings fail in FIPS mode until it updates",
            )
        )
    if facts.get("power_state") not in (None, "running"):
        out.append(Finding("warning", f"power state {facts.get('power_state')}"))
    for note in unit.notes:
        out.append(Finding("refusal" if "refus" in note.lower() else "info", note))
    out.append(
        Finding(
            "info",
            "distro, FIPS mode, SSH keys and agent settings inside the "
            "guest are read by the run's guest probe (its findings show on "
            "the validation screen)",
        )
    )
    return out


def finding_line(found: Finding) -> str:
    """A finding as one line: the plan's text and the Preflight screen both render this."""
    return f"{found.level:<8} {found.text}"


def verdict_lines(rows: list[VmRow]) -> list[str]:
    """The "== Preflight ==" section of `fipswizard plan`: a verdict per VM and its findings."""
    lines = ["== Preflight (platform, read now) =="]
    for row in rows:
        lines.append(f"{row.vm}: {row.verdict}")
        lines += [f"  {finding_line(f)}" for f in row.findings]
    return lines


def _verdict(findings: list[Finding]) -> str:
    if any(f.level == "refusal" for f in findings):
        return "refused"
    if any(f.level == "warning" for f in findings):
        return "warnings"
    return "ready"


def vm_rows(
    plan: Plan, states: dict[tuple[str, str], str], min_agent: str = Settings().min_agent
) -> list[VmRow]:
    rows = []
    targets = {rt.target.key: rt.target for rt in plan.recipe.targets}
    for unit in plan.vm_units:
        target = targets[unit.key]
        facts = plan.facts.get(unit.key, {})
        feature = _feature(plan, states, target.subscription)
        found = _findings(plan, unit, facts, feature, min_agent)
        checks = tuple(
            f"{s.title}: {states[(unit.key, s.id)]}"
            for s in unit.steps
            if (unit.key, s.id) in states
        )
        agent = f"{facts.get('agent_status', '?')} {facts.get('agent_version', '')}".strip()
        image = str(facts.get("os_name") or facts.get("image") or "?")
        flag = "?" if "error" in facts else ("on" if facts.get("flag") else "off")
        rows.append(
            VmRow(
                unit.key,
                target.vm,
                str(facts.get("location", "?")),
                feature,
                flag,
                agent,
                image,
                _verdict(found),
                tuple(found),
                checks,
            )
        )
    return rows
