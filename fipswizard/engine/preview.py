"""Render a Plan as the dry-run preview (text or JSON): the exact requests and scripts."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any

from fipswizard.context import key_name
from fipswizard.engine.findings import VmRow, verdict_lines
from fipswizard.engine.plan import Plan, Unit
from fipswizard.engine.steps import Action, HttpAction, Risk, ScriptAction, Step
from fipswizard.secrets import redact


def _action(a: Action) -> dict[str, Any]:
    if isinstance(a, HttpAction):
        return {
            "type": "http",
            "method": a.method,
            "url": a.url,
            "body": a.body,
            "note": a.note,
            "write": a.is_write,
        }
    assert isinstance(a, ScriptAction)
    return {
        "type": "script",
        "phase": a.phase,
        "script": a.script,
        "secrets": list(a.secrets),
        "note": a.note,
        "write": True,
    }


def _step(step: Step, state: str) -> dict[str, Any]:
    return {
        "id": step.id,
        "kind": step.kind,
        "title": step.title,
        "risk": str(step.risk),
        "now": state,
        "actions": [_action(a) for a in step.actions()],
    }


def _writes(step: Step) -> bool:
    return step.risk is not Risk.READ_ONLY


def _will_run(plan: Plan, states: dict[tuple[str, str], str], unit: Unit, step: Step) -> bool:
    """Offline, or not known to be done: counted as a change."""
    return plan.offline or not states.get((unit.key, step.id), "").startswith("done")


def problems(plan: Plan, states: dict[tuple[str, str], str]) -> list[str]:
    """One line per target whose current state could not be read (missing VM, unreachable
    endpoint, unparseable answer): `plan` exits 1 when there is any (a CI gate)."""
    if plan.offline:
        return []
    out = []
    for unit in plan.units:
        error = plan.facts.get(unit.key, {}).get("error")
        if error:
            out.append(f"{unit.key}: could not read the VM: {str(error).splitlines()[0]}")
            continue
        unknown = [v for (k, _), v in states.items() if k == unit.key and v.startswith("unknown")]
        if unknown:
            out.append(f"{unit.key}: could not read the current state: {unknown[0]}")
    return out


def plan_summary(plan: Plan, states: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The footer: what the plan would change, and what stops it, in counts and names."""
    vms = plan.vm_units
    keys = {u.key for u in vms}
    unreadable = [k for k in (p.split(": ", 1)[0] for p in problems(plan, states)) if k in keys]
    refused = [
        u.key
        for u in vms
        if u.key not in unreadable
        and (
            (u.key in plan.facts and plan.facts[u.key].get("agent_ready") is False)
            or any("refus" in n.lower() for n in u.notes)
        )
    ]
    flag = [
        u.key for u in vms for s in u.steps if s.kind == "vm-flag" and _will_run(plan, states, u, s)
    ]
    guest = [u.key for u in vms if any(s.kind.startswith("guest-") and _writes(s) for s in u.steps)]
    reboots = sum(1 for u in vms for s in u.steps if s.kind == "guest-reboot")
    irreversible = sum(1 for s in plan.all_steps() if s.risk is Risk.IRREVERSIBLE)
    return {
        "vms": len(vms) + len(plan.skipped),
        "skipped": sorted(plan.skipped),
        "flag_changes": len(flag),
        "guest_changes": len(guest),
        "reboots": reboots,
        "irreversible_steps": irreversible,
        "conditional_fixes": sum(1 for u in vms if u.fixes),
        "preflight_refuses": None if plan.offline else refused,
        "unreadable": None if plan.offline else unreadable,
    }


def _footer(summary: dict[str, Any]) -> list[str]:
    def names(keys: list[str] | None) -> str:
        if keys is None:
            return "not known (--offline)"
        return f"{len(keys)}" + (f" ({', '.join(key_name(k) for k in keys)})" if keys else "")

    return [
        "",
        "== Summary ==",
        f"   VMs: {summary['vms']}"
        + (f", {len(summary['skipped'])} skipped by the recipe" if summary["skipped"] else ""),
        f"   flag changes: {summary['flag_changes']}",
        f"   VMs with guest changes: {summary['guest_changes']}",
        f"   reboots: {summary['reboots']}",
        f"   irreversible steps: {summary['irreversible_steps']}",
        f"   VMs with a fix that runs if validation needs it: {summary['conditional_fixes']}",
        f"   VMs preflight refuses (known before the run): {names(summary['preflight_refuses'])}",
        f"   VMs that could not be read: {names(summary['unreadable'])}",
    ]


def plan_json(
    plan: Plan, states: dict[tuple[str, str], str], rows: list[VmRow] | None = None
) -> str:
    units = []
    for u in plan.units:
        units.append(
            {
                "target": u.key,
                "title": u.title,
                "after": u.after,
                "notes": u.notes,
                "steps": [_step(s, states.get((u.key, s.id), "")) for s in u.steps],
                "fixes": {
                    k: _step(s, "runs only if validation needs it") for k, s in u.fixes.items()
                },
            }
        )
    doc = {
        "recipe": plan.recipe.path,
        "cloud": plan.recipe.cloud,
        "endpoint": plan.endpoint,
        "offline": plan.offline,
        "dry_run": True,
        "units": units,
        "summary": plan_summary(plan, states),
        "problems": problems(plan, states),
    }
    if rows and not plan.offline:
        doc["preflight"] = [
            {
                "target": row.key,
                "verdict": row.verdict,
                "findings": [{"level": f.level, "text": f.text} for f in row.findings],
            }
            for row in rows
        ]
    return redact(json.dumps(doc, indent=2))


def _prelude() -> str:
    from fipswizard.guest.recipes import recipe_dir

    return (recipe_dir() / "lib.sh").read_text(encoding="utf-8").rstrip("\n")


def _batching() -> list[str]:
    from fipswizard.guest.batch import HOW_SENT, wrapper_text

    return [
        *textwrap.wrap(HOW_SENT, 96, initial_indent="   ", subsequent_indent="   "),
        *("        | " + line for line in wrapper_text().splitlines()),
    ]


def _lines(step: Step, n: int, state: str, prelude: str = "") -> list[str]:
    head = f"{n:>2}. [{step.risk}] {step.title}"
    out = [head + (f"  -- now: {state}" if state else "")]
    for a in step.actions():
        if isinstance(a, HttpAction):
            out.append(f"      {a.method} {a.url}" + (f"   # {a.note}" if a.note else ""))
            if a.body is not None:
                out += ["        " + line for line in json.dumps(a.body, indent=2).splitlines()]
        else:
            secrets = f" (secrets as variables: {', '.join(a.secrets)})" if a.secrets else ""
            out.append(f"      script ({a.phase}){secrets}:")
            body = a.script
            if prelude and body.startswith(prelude):
                body = "(lib.sh, printed once at the top)" + body[len(prelude) :]
            out += ["        | " + line for line in body.splitlines()]
    return out


def _unit_text(u: Unit, states: dict[tuple[str, str], str], prelude: str) -> list[str]:
    out = ["", f"== {u.title} =="] + ([f"   target: {u.key}"] if "/" in u.key else [])
    out += [f"   note: {n}" for n in u.notes]
    for n, step in enumerate(u.steps, 1):
        out += _lines(step, n, states.get((u.key, step.id), ""), prelude)
    for step_id, fix in u.fixes.items():
        out.append(f"    if {step_id} fails with the old certificate package:")
        out += ["  " + line for line in _lines(fix, 0, "")]
    return out


def _read_line(plan: Plan, states: dict[tuple[str, str], str]) -> str:
    bad = len(problems(plan, states))
    return (
        f"read from Azure, except {bad} target(s): see the summary." if bad else "read from Azure."
    )


@dataclass(frozen=True)
class PlanText:
    """The preview's text in parts, so a front end shows one unit without parsing the text:
    `header` (run line, preflight verdicts, lib.sh), one part per plan unit (in `plan.units`
    order) and `footer` (skipped targets, summary). `str()` is what `fipswizard plan` prints."""

    header: str
    units: tuple[str, ...]
    footer: str

    def __str__(self) -> str:
        return "\n".join([self.header, *self.units, self.footer]) + "\n"

    def unit(self, n: int) -> str:
        """The header and unit `n` alone (the TUI's per-VM view)."""
        return f"{self.header}\n{self.units[n]}\n"


def plan_sections(
    plan: Plan, states: dict[tuple[str, str], str], rows: list[VmRow] | None = None
) -> PlanText:
    """The preview; with `rows` (`engine.findings.vm_rows`) it includes the platform
    preflight verdicts the TUI's Preflight screen shows."""
    r = plan.recipe
    lines = [
        f"fipswizard plan: {r.path}: {len(r.targets)} VM(s), cloud {r.cloud} ({plan.endpoint})",
        "DRY RUN: nothing below has been sent. Risk labels: read-only, reversible, disruptive, "
        "irreversible.",
        "Current state " + ("not read (--offline)." if plan.offline else _read_line(plan, states)),
    ]
    if rows and not plan.offline:
        lines += ["", *verdict_lines(rows)]
    scripted = any(isinstance(a, ScriptAction) for s in plan.all_steps() for a in s.actions())
    prelude = _prelude() if scripted else ""
    if prelude:
        lines += ["", "== lib.sh: the shared prelude every recipe script starts with =="]
        lines += ["        | " + line for line in prelude.splitlines()]
        lines += ["", "== how the guest scripts are sent: batched, one Run Command per phase =="]
        lines += _batching()
    units = tuple(redact("\n".join(_unit_text(u, states, prelude))) for u in plan.units)
    footer: list[str] = []
    for key, reason in plan.skipped.items():
        footer += ["", f"== skipped by the recipe: {key} ==", f"   reason: {reason}"]
    footer += _footer(plan_summary(plan, states))
    return PlanText(redact("\n".join(lines)), units, redact("\n".join(footer)))


def plan_text(
    plan: Plan, states: dict[tuple[str, str], str], rows: list[VmRow] | None = None
) -> str:
    return str(plan_sections(plan, states, rows))
