"""Which guest steps a VM gets: the recipe, inferred from what ARM already tells us.

The plan must be fully resolved before anything runs, so the recipe is chosen from the
instance view (the agent's osName/osVersion) or the image reference; the probe step then
confirms it inside the guest before any guest change, and runs the preflight checks.
"""

from __future__ import annotations

import re
from typing import Any

from fipswizard.context import Context, ScriptResult
from fipswizard.engine.steps import Action, Outcome, Risk, ScriptAction, Step
from fipswizard.errors import StepError
from fipswizard.guest.batch import Part, fitting, parse_batch, read_parts, remember
from fipswizard.guest.detect import PROBE_SCRIPT, GuestFacts, NoRecipe, parse_probe, select_recipe
from fipswizard.guest.preflight import preflight
from fipswizard.guest.protocol import FLATCAR_EXTENSIONS
from fipswizard.guest.recipes import GuestRecipe, load_guest_recipe
from fipswizard.guest.script_steps import GuestScriptStep, guest_steps, later_steps
from fipswizard.guest.validate import GuestValidateStep
from fipswizard.recipe import RecipeTarget

PROBE_BUDGET = 1200  # bytes of the probe's answer kept in a batch (it prints ~0.4-0.6 KB)
AGENT_OS_IDS = {"redhat": "rhel", "rhel": "rhel"}  # the agent reports DISTRO_NAME "redhat"
IMAGE_OS_IDS = (
    ("canonical", "ubuntu"),
    ("redhat", "rhel"),
    ("almalinux", "almalinux"),
    ("kinvolk", "flatcar"),
    ("flatcar", "flatcar"),
    ("microsoftcblmariner", "azurelinux"),
)


def facts_from_arm(facts: dict[str, Any]) -> GuestFacts | None:
    """A distro id and version from the instance view, else from the image reference."""
    name, _, version = str(facts.get("os_name", "")).partition(" ")
    if name and version:
        return GuestFacts(
            os_id=AGENT_OS_IDS.get(name.lower(), name.lower()),
            os_version=version,
            source="instance view",
        )
    image = str(facts.get("image", "")).lower()
    for publisher, os_id in IMAGE_OS_IDS:
        if image.startswith(publisher):
            found = re.search(r"(\d+)[_.-](\d+)", image)
            digits = f"{found.group(1)}.{found.group(2)}" if found else ""
            return GuestFacts(os_id=os_id, os_version=digits, source="image reference")
    return None


class GuestProbeStep(Step):
    """Read-only: confirm the distro inside the guest and run the preflight checks."""

    kind = "guest-probe"

    def actions(self) -> list[Action]:
        return [ScriptAction(PROBE_SCRIPT, "check", note="read-only probe (Run Command)")]

    async def _probe(self, ctx: Context) -> ScriptResult:
        """The probe and, in the same Run Command, every later guest check of this VM's plan
        read ahead (a re-run that changes nothing costs this one Run Command). The probe's
        own answer must come back whole; otherwise it runs again alone."""
        probe = Part(f"{self.id}/probe", PROBE_SCRIPT, go_on=None, budget=PROBE_BUDGET)
        later = read_parts(later_steps(ctx, self))
        if not later:
            return await ctx.run_read(PROBE_SCRIPT)
        prelude = next((r.prelude for r in self._recipes(ctx) if r.prelude), None)
        script, reads = fitting("read", [probe], later, prelude)
        result = await ctx.need_runner().run(script, read_only=True, progress=ctx.progress)
        batch = parse_batch(result)
        remember(ctx, reads, batch)
        got = batch.get(probe.name)
        if got is None or got.truncated:
            return await ctx.run_read(PROBE_SCRIPT)
        return got.script_result(batch.stderr)

    @staticmethod
    def _recipes(ctx: Context) -> list[GuestRecipe]:
        return [s.recipe for s in ctx.unit_steps if isinstance(s, GuestScriptStep)]

    async def check(self, ctx: Context) -> Outcome:
        result = await self._probe(ctx)
        if result.rc != 0:
            raise StepError(
                f"the guest probe failed (exit {result.rc}): {result.stderr[-300:]}",
                "is the guest agent Ready? Run Command needs it",
            )
        facts = parse_probe(result.stdout)
        try:
            found = select_recipe(facts)
        except NoRecipe as err:
            raise StepError(err.reason) from None
        expected = self.params.get("recipe")
        if expected and found.id != expected:
            raise StepError(
                f"the guest is {facts.describe}, which needs recipe '{found.id}', "
                f"but the plan chose '{expected}'",
                f'set guest = "{found.id}" for this target in the recipe',
            )
        findings = preflight(
            facts,
            found,
            secrets=tuple(ctx.secrets),
            flatcar_extensions=str(self.params.get("flatcar_extensions") or FLATCAR_EXTENSIONS[0]),
        )
        for f in findings:
            ctx.found(f.level, f.code, f.message)
        refusals = [f for f in findings if f.refusal]
        if refusals:
            raise StepError(
                "preflight refused: " + "; ".join(f.message for f in refusals),
                "fix what the preflight names, then re-run",
            )
        return Outcome(
            True,
            f"{facts.describe}: recipe {found.id}, {len(findings)} warning(s)",
            {"facts": facts.to_dict()},
        )

    async def apply(self, ctx: Context, before: Outcome) -> None:  # pragma: no cover
        return None  # check either holds or raises


def guest_steps_for(
    rt: RecipeTarget, facts: dict[str, Any], base: dict[str, Any]
) -> tuple[list[Step], list[str]]:
    """(steps, notes) for one VM: the probe, then the recipe's steps."""
    if rt.guest == "none":
        return [], []
    notes: list[str] = []
    recipe: GuestRecipe | None = None
    if rt.guest != "auto":
        recipe = load_guest_recipe(rt.guest)
    else:
        seen = facts_from_arm(facts)
        try:
            recipe = select_recipe(seen) if seen else None
            if seen and recipe:
                notes.append(
                    f"guest recipe '{recipe.id}' chosen from the {seen.source} "
                    f"({seen.os_id} {seen.os_version}); the probe confirms it"
                )
        except NoRecipe as err:
            notes.append(f"no guest recipe: {err.reason}")
    choice = {}  # a default choice is not stored: plans and journals read as before
    if rt.flatcar_extensions != FLATCAR_EXTENSIONS[0]:
        choice = {"flatcar_extensions": rt.flatcar_extensions}
    probe = GuestProbeStep(
        rt.target.key,
        "Probe the guest: distro, agent, preflight checks",
        Risk.READ_ONLY,
        {"recipe": recipe.id if recipe else None, **choice},
    )
    if recipe is None:
        if not facts:
            notes.append(
                "guest recipe chosen at run time (not read: --offline); set guest = "
                '"<recipe id>" in the recipe to preview its scripts'
            )
        return [probe], notes
    validate = GuestValidateStep(
        rt.target.key,
        "Validate the guest: fips_enabled=1, MD5 refused, OpenSSL FIPS provider active",
        Risk.READ_ONLY,
        {},
    )
    steps = guest_steps(recipe, rt.target, base=base, flatcar_extensions=rt.flatcar_extensions)
    return [probe, *steps, validate], notes
