"""The plan: a pure function of (recipe, discovered facts) to ordered, fully resolved steps.

The dry-run preview renders this same object; nothing is described twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fipswizard.azure.arm_step import vm_params
from fipswizard.azure.selection import (
    SELECTOR_FACTS,
    scale_set_of,
    scale_set_reason,
    selector_notes,
)
from fipswizard.azure.steps_feature import FeatureStep
from fipswizard.azure.steps_validate import (
    CustomScriptValidation,
    KeyVaultFix,
    ReallocateFix,
    VmAccessValidation,
)
from fipswizard.azure.steps_vm import AgentStep, RegionStep, VmFlagStep
from fipswizard.context import Settings, TargetKey
from fipswizard.engine.steps import Risk, Step
from fipswizard.guest.choose import guest_steps_for
from fipswizard.recipe import DEFAULT_READS, Recipe, RecipeTarget

if TYPE_CHECKING:
    from fipswizard.azure.arm import ArmClient

# Codes of the notes the run reports as warnings (engine/run.py emits each unit's notes once,
# as `Finding` events, at the start of the run); any other note is "info" with PLAN_NOTE.
SELECTOR_DRIFT, VM_UNREADABLE, PLAN_NOTE = "selector-drift", "vm-unreadable", "plan-note"


@dataclass
class Unit:
    """The steps for one target (a VM, or a subscription's shared steps), run in order."""

    key: str
    title: str
    steps: list[Step]
    after: str | None = None  # the unit that must succeed first
    fixes: dict[str, Step] = field(default_factory=dict)  # step id -> the fix it may need
    notes: list[str] = field(default_factory=list)
    warnings: dict[str, str] = field(default_factory=dict)  # note -> its code, for warnings

    def warn(self, note: str, code: str) -> None:
        self.notes.append(note)
        self.warnings[note] = code

    def note_findings(self) -> list[tuple[str, str, str]]:
        """(level, code, text) of each note, in order: what the run reports at its start."""
        return [
            ("warning", self.warnings[n], n) if n in self.warnings else ("info", PLAN_NOTE, n)
            for n in self.notes
        ]


@dataclass
class Plan:
    recipe: Recipe
    units: list[Unit]
    facts: dict[str, dict[str, Any]]
    endpoint: str
    offline: bool
    # VMs the recipe leaves out (`skip`, e.g. refused at preflight in the TUI): key -> reason.
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def vm_units(self) -> list[Unit]:
        return [u for u in self.units if u.after is not None]

    @property
    def subscription_units(self) -> list[Unit]:
        return [u for u in self.units if u.after is None]

    def all_steps(self) -> list[Step]:
        return [s for u in self.units for s in (*u.steps, *u.fixes.values())]


def subscription_key(subscription: str) -> str:
    return str(TargetKey.for_subscription(subscription))


async def discover(
    recipe: Recipe, arm: ArmClient, settings: Settings, concurrency: int | None = None
) -> dict[str, dict[str, Any]]:
    """Read-only: one `GET vm?$expand=instanceView` per target. Errors are kept per VM (an
    unreadable or malformed answer fails that VM alone, never the run); only an auth
    failure (exit 3) stops everything. These facts serve the preview and read-only checks:
    writes re-read the VM for themselves (see fipswizard/azure/arm_step.py)."""
    import asyncio

    from fipswizard.azure.arm import ArmError
    from fipswizard.azure.vm_model import MalformedResource, vm_facts

    gate = asyncio.Semaphore(concurrency or recipe.concurrency or DEFAULT_READS)

    async def one(rt: RecipeTarget) -> tuple[str, dict[str, Any]]:
        async with gate:
            try:
                resp = await arm.get(
                    rt.target.vm_path, settings.compute_api, **{"$expand": "instanceView"}
                )
                facts = vm_facts(resp.body, resp.etag, f"VM {rt.target.vm}")
            except ArmError as err:
                if err.exit_code == 3:
                    raise
                return rt.target.key, {"error": str(err)}
            except MalformedResource as err:
                return rt.target.key, {"error": str(err).splitlines()[0]}
        scale_set = scale_set_of(resp.body)  # W5: scale-set VMs get no write (selection.py)
        return rt.target.key, {
            **facts.to_dict(),
            "capabilities": facts.capabilities,
            "scale_set": scale_set,
        }

    found = dict(await asyncio.gather(*(one(rt) for rt in recipe.targets)))
    if recipe.selector:  # W5: say when the recorded selector would now select another set
        keys = [rt.target.key for rt in recipe.targets]
        notes = await selector_notes(arm, recipe.selector, keys, settings.compute_api)
        found[SELECTOR_FACTS] = {"notes": notes}
    return found


def build_plan(
    recipe: Recipe,
    facts: dict[str, dict[str, Any]],
    *,
    endpoint: str,
    settings: Settings,
    offline: bool = False,
    unregister_feature: bool = False,
) -> Plan:
    units: list[Unit] = []
    if recipe.feature == "register":
        for sub in recipe.subscriptions:
            key = subscription_key(sub)
            step = FeatureStep(
                key,
                f"Opt in to Microsoft.Compute/{settings.feature_name}",
                Risk.REVERSIBLE,
                {
                    "endpoint": endpoint,
                    "api": settings.features_api,
                    "resources_api": settings.resources_api,
                    "subscription": sub,
                    "feature": settings.feature_name,
                    "unregister": unregister_feature,
                },
            )
            units.append(Unit(key, f"subscription {sub}", [step]))
    skipped: dict[str, str] = {}
    for rt in recipe.targets:
        scale_set = str(facts.get(rt.target.key, {}).get("scale_set") or "")  # W5: never written
        if rt.skip is not None or scale_set:  # no steps, so no waiting for its agent on replay
            skipped[rt.target.key] = rt.skip or scale_set_reason(scale_set)
            continue
        units.append(_vm_unit(recipe, rt, facts.get(rt.target.key, {}), endpoint, settings))
    if units:  # W5: the recorded selector's drift, shown with the plan and said by apply
        for note in facts.get(SELECTOR_FACTS, {}).get("notes", []):
            units[0].warn(note, SELECTOR_DRIFT)
    return Plan(recipe, units, facts, endpoint, offline, skipped)


def _vm_unit(
    recipe: Recipe, rt: RecipeTarget, facts: dict[str, Any], endpoint: str, settings: Settings
) -> Unit:
    t = rt.target
    after = subscription_key(t.subscription) if recipe.feature == "register" else ""
    unit = Unit(t.key, f"VM {t.vm} ({facts.get('location', 'location from GET')})", [], after)
    if "error" in facts:
        unit.warn(f"could not read the VM: {facts['error']}", VM_UNREADABLE)
    base = vm_params(
        endpoint,
        settings.compute_api,
        t.vm_path,
        location=facts.get("location"),
        cloud=recipe.cloud,
    )
    # Discovery's read (or its error: the VM then fails before any write) for read-only checks.
    seen = {"observed": facts} if facts else {}
    guest, notes = guest_steps_for(rt, facts, base)  # [probe, recipe steps...] or []
    # Read-only checks first (the probe runs the preflight), so a refusal changes nothing.
    unit.steps += [
        RegionStep(t.key, "Region check (dated table; advice only)", Risk.READ_ONLY, dict(base)),
        AgentStep(t.key, "Guest agent is Ready", Risk.READ_ONLY, {**base, **seen}),
        *guest[:1],
        VmFlagStep(
            t.key,
            "Set additionalCapabilities.enableFips1403Encryption = true",
            Risk.REVERSIBLE,
            {**base, "capabilities": facts.get("capabilities", {}), **seen},
        ),
        *guest[1:],
    ]
    unit.notes += notes + _one_boot(recipe, facts, guest)
    if recipe.validate:
        fix = _fix_step(recipe, t.key, base)
        for cls, title in (
            (CustomScriptValidation, "Validate: CustomScript `cat /etc/os-release`"),
            (VmAccessValidation, "Validate: VMAccess temporary user"),
        ):
            step = cls(
                t.key, title, Risk.REVERSIBLE, {**base, "agent_version": facts.get("agent_version")}
            )
            unit.steps.append(step)
            if fix is not None:
                unit.fixes[step.id] = fix
    return unit


def _one_boot(recipe: Recipe, facts: dict[str, Any], guest: list[Step]) -> list[str]:
    """Issue 9: when this run sets (or may set) the flag and the fix is "reallocate", the guest
    reboot can be the deallocate + start that also issues the new certificate package, so
    validation passes first time: one boot instead of a restart and then the fix. Chosen with
    `reboot = "reallocate"` (the reboot step's param `reboot`), else offered in a note."""
    from fipswizard.guest.diagnose import COSTS

    reboots = [s for s in guest if s.kind == "guest-reboot" and not s.params.get("local")]
    if recipe.fix != "reallocate" or not reboots:
        return []
    if facts.get("flag") is True:  # nothing in this run sets it: no new package is due
        if recipe.reboot != "reallocate":
            return []
        return [
            'reboot = "reallocate": the flag is already on (this run does not set it), so the '
            "guest reboot stays a restart; should validation then show the old certificate "
            "package, the reallocate fix runs as usual"
        ]
    if recipe.reboot != "reallocate":
        return [
            'one boot instead of two: reboot = "reallocate" in the recipe makes the guest reboot '
            "a deallocate + start, which also issues the new certificate package "
            f"({COSTS['reallocate']})"
        ]
    for step in reboots:
        step.params["reboot"] = "reallocate"
        step.title = f"{step.title} by deallocate + start (one boot: new certificate package)"
    return []


def _fix_step(recipe: Recipe, key: str, base: dict[str, Any]) -> Step | None:
    if recipe.fix == "reallocate":
        return ReallocateFix(
            key,
            "Fix: deallocate and start for a new certificate package",
            Risk.DISRUPTIVE,
            dict(base),
        )
    if recipe.fix == "keyvault":
        return KeyVaultFix(
            key,
            "Fix: add the Key Vault certificate to osProfile.secrets",
            Risk.REVERSIBLE,
            {**base, **recipe.keyvault},
        )
    return None
