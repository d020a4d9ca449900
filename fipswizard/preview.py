"""Render a Plan as the dry-run preview (text or JSON): the exact requests and scripts."""

from __future__ import annotations

import json
from typing import Any

from fipswizard.plan import Plan, Unit
from fipswizard.secrets import redact
from fipswizard.steps import Action, HttpAction, ScriptAction, Step


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


def plan_json(plan: Plan, states: dict[tuple[str, str], str]) -> str:
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
    }
    return redact(json.dumps(doc, indent=2))


def _prelude() -> str:
    from fipswizard.guest.recipes import recipe_dir

    return (recipe_dir() / "lib.sh").read_text(encoding="utf-8").rstrip("\n")


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


def plan_text(plan: Plan, states: dict[tuple[str, str], str]) -> str:
    r = plan.recipe
    lines = [
        f"fipswizard plan: {r.path}: {len(r.targets)} VM(s), cloud {r.cloud} ({plan.endpoint})",
        "DRY RUN: nothing below has been sent. Risk labels: read-only, reversible, disruptive, "
        "irreversible.",
        "Current state " + ("not read (--offline)." if plan.offline else "read from Azure."),
    ]
    scripted = any(isinstance(a, ScriptAction) for s in plan.all_steps() for a in s.actions())
    prelude = _prelude() if scripted else ""
    if prelude:
        lines += ["", "== lib.sh: the shared prelude every recipe script starts with =="]
        lines += ["        | " + line for line in prelude.splitlines()]
    for u in plan.units:
        lines += _unit_text(u, states, prelude)
    return redact("\n".join(lines)) + "\n"
