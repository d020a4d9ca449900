"""`fipswizard check --local`: what this machine (or a root directory) is, read-only.

Prints the distro, the recipe that applies (or why none does), the FIPS state, the agent's
daemon and goal-state versions, AutoUpdate and the preflight findings. Exit code 0 when a
recipe applies and nothing refuses, 1 otherwise (2 for a bad --format).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, TextIO

from fipswizard.errors import BadInput, ExitCode
from fipswizard.guest.detect import (
    PROBE_SCRIPT,
    GuestFacts,
    NoRecipe,
    local_facts,
    parse_probe,
    select_recipe,
)
from fipswizard.guest.preflight import Finding, preflight
from fipswizard.guest.recipes import GuestRecipe
from fipswizard.guest.runners import LocalRunner

FORMATS = ("text", "json")


def gather_facts(root: Path | None) -> GuestFacts:
    """The running system: the probe script (sshd -T, waagent --version, pro status, ...);
    a root directory: its files only, nothing is run."""
    if root is not None:
        return local_facts(root)
    result = asyncio.run(LocalRunner().run(PROBE_SCRIPT, timeout=300))
    facts = parse_probe(result.stdout)
    return facts if facts.complete and facts.os_id else local_facts(None)


def run_check(root: Path | None, fmt: str, out: TextIO) -> int:
    if fmt not in FORMATS:
        raise BadInput(f"unknown --format {fmt!r}; allowed: {', '.join(FORMATS)}")
    facts = gather_facts(root)
    recipe: GuestRecipe | None = None
    reason = None
    try:
        recipe = select_recipe(facts)
    except NoRecipe as err:
        reason = err.reason
    findings = preflight(facts, recipe)
    ok = recipe is not None and not any(f.refusal for f in findings)
    report = _report(facts, recipe, reason, findings, ok)
    if fmt == "json":
        out.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    else:
        out.write(_text(report))
    return int(ExitCode.OK if ok else ExitCode.STEP_FAILED)


def _report(
    facts: GuestFacts,
    recipe: GuestRecipe | None,
    reason: str | None,
    findings: list[Finding],
    ok: bool,
) -> dict[str, Any]:
    return {
        "ok": ok,
        "source": facts.source,
        "distro": {
            "id": facts.os_id,
            "version": facts.os_version,
            "pretty": facts.os_pretty,
            "like": facts.os_like,
            "kernel": facts.kernel,
        },
        "recipe": None
        if recipe is None
        else {
            "id": recipe.id,
            "title": recipe.title,
            "notes": list(recipe.notes),
            "steps": [f"{s.recipe}.{s.id}" for s in recipe.steps],
        },
        "no_recipe_reason": reason,
        "fips": {
            "state": facts.fips_state,
            "fips_enabled": facts.fips_enabled,
            "cmdline_fips": facts.cmdline_fips,
            "crypto_policy": facts.crypto_policy,
        },
        "agent": {
            "daemon": facts.agent_daemon,
            "goal_state": facts.agent_goal_state,
            "autoupdate_enabled": facts.autoupdate_enabled,
            "autoupdate_latest": facts.autoupdate_latest,
            "autoupdate_on": facts.autoupdate_on,
        },
        "findings": [{"level": f.level, "code": f.code, "message": f.message} for f in findings],
        "facts": facts.to_dict(),
    }


def _text(report: dict[str, Any]) -> str:
    d, fips, agent = report["distro"], report["fips"], report["agent"]
    recipe = report["recipe"]
    lines = [
        f"distro:      {d['pretty'] or '?'} (ID={d['id'] or '?'}, "
        f"VERSION_ID={d['version'] or '?'})",
        "recipe:      "
        + (
            f"{recipe['id']}: {recipe['title']}"
            if recipe
            else f"none: {report['no_recipe_reason']}"
        ),
        f"FIPS:        {fips['state']} (fips_enabled={_show(fips['fips_enabled'])}, "
        f"kernel fips={_show(fips['cmdline_fips'])}, "
        f"crypto policy={_show(fips['crypto_policy'])})",
        f"agent:       daemon {_show(agent['daemon'])}, goal-state {_show(agent['goal_state'])}",
        f"auto-update: {'on' if agent['autoupdate_on'] else 'off'} "
        f"(AutoUpdate.Enabled={agent['autoupdate_enabled'] or 'default'}, "
        f"AutoUpdate.UpdateToLatestVersion={agent['autoupdate_latest'] or 'default'})",
    ]
    if recipe:
        lines += [f"  note: {n}" for n in recipe["notes"]]
    lines.append("preflight:   " + ("nothing found" if not report["findings"] else ""))
    lines += [f"  {f['level']} [{f['code']}]: {f['message']}" for f in report["findings"]]
    lines.append(
        "result:      " + ("ready for the recipe" if report["ok"] else "not ready (see above)")
    )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _show(value: object) -> str:
    return "unknown" if value is None else str(value)
