"""The target screen's model: the chosen VMs across resource groups, and the ARM listings.

The listing coroutines run in the screen's workers; they return data and touch no widget.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fipswizard.azure.selection import Selection, Selector, resolve, scale_set_reason
from fipswizard.context import Target
from fipswizard.errors import BadInput
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe, parse_recipe
from fipswizard.session import Options, make_arm, make_cloud, new_ids

CLOUD_CHOICES = (("Azure (public)", "AzureCloud"), ("Azure US Government", "AzureUSGovernment"))
FIX_CHOICES = (("fix: deallocate + start", "reallocate"), ("fix: none (report only)", "none"))


class TargetChoice:
    """Chosen VMs keyed by their lower-case target key (Azure names are case-insensitive)."""

    def __init__(self, base: Recipe | None) -> None:
        self.base = base
        self.chosen: dict[str, RecipeTarget] = {
            rt.target.key.lower(): rt for rt in (base.targets if base else ())
        }
        # The recipe's [selector] (as `recipe new` records it): kept while the chosen list is
        # what it selected; a tick or untick by hand drops it (the list is then hand-made).
        self.selector: dict[str, Any] = dict(base.selector) if base else {}

    def key(self, sub: str, rg: str, vm: str) -> str:
        return f"{sub}/{rg}/{vm}".lower()

    def is_chosen(self, sub: str, rg: str, vm: str) -> bool:
        return self.key(sub, rg, vm) in self.chosen

    @property
    def guest(self) -> str:
        return self.base.guest if self.base else "auto"

    def set(self, sub: str, rg: str, vm: str, on: bool, cloud: str) -> None:
        key = self.key(sub, rg, vm)
        if not on and key in self.chosen:
            del self.chosen[key]
            self.selector = {}
        elif on and key not in self.chosen:
            self.chosen[key] = RecipeTarget(Target(sub, rg, vm, cloud), self.guest)
            self.selector = {}

    def use(self, selection: Selection, selector: Selector, cloud: str) -> None:
        """Choose exactly what the selector selected, as `recipe new` freezes it: a VM of a
        scale set is kept with `skip` and its reason (never written, azure/selection.py)."""
        self.chosen = {
            f.key.lower(): RecipeTarget(
                Target(f.subscription, f.resource_group, f.name, cloud),
                self.guest,
                skip=scale_set_reason(f.scale_set) if f.scale_set else None,
            )
            for f in selection.vms
        }
        self.selector = selector.to_table()

    def describe(self) -> str:
        if not self.chosen:
            return "No VM chosen yet: tick VMs with space (or ^A for all shown)."
        if self.selector:
            rule = "; ".join(
                f"{k}: {v if isinstance(v, str) else ', '.join(v)}"
                for k, v in self.selector.items()
                if k != "subscriptions"
            )
            skipped = sum(rt.skip is not None for rt in self.chosen.values())
            tail = f", {skipped} in a scale set (skipped)" if skipped else ""
            return f"{len(self.chosen)} VM(s) selected by rule ({rule}){tail}"
        groups = {(rt.target.subscription, rt.target.resource_group) for rt in self.chosen.values()}
        names = ", ".join(rt.target.vm for rt in list(self.chosen.values())[:6])
        more = f" and {len(self.chosen) - 6} more" if len(self.chosen) > 6 else ""
        return f"{len(self.chosen)} VM(s) chosen in {len(groups)} resource group(s): {names}{more}"

    def recipe(self, cloud: str, fix: str, reboot: str = "restart") -> Recipe:
        """The recipe `apply` would replay, validated exactly as `apply` validates it.
        `reboot` = "reallocate" (the one-boot option) holds only with fix = "reallocate"."""
        reboot = reboot if fix == "reallocate" else "restart"
        # `skip` kept: a scale-set VM a rule selected stays explained, never written.
        targets = tuple(
            RecipeTarget(replace(rt.target, cloud=cloud), rt.guest, skip=rt.skip)
            for rt in self.chosen.values()
        )
        if self.base is not None:
            recipe = replace(
                self.base,
                targets=targets,
                cloud=cloud,
                fix=fix,
                reboot=reboot,
                selector=self.selector,
            )
        else:
            recipe = Recipe(
                targets=targets,
                cloud=cloud,
                fix=fix,
                reboot=reboot,
                path="<new recipe>",
                selector=self.selector,
            )
        parsed = parse_recipe(dump_recipe(recipe), recipe.path)
        return replace(parsed, path=recipe.path)


async def select(
    opts: Options, cloud: str, selector: Selector, custom: dict[str, str] | None = None
) -> Selection:
    """Resolve a selector (GETs and Resource Graph queries only) as `recipe new` does."""
    _, correlation_id = new_ids()
    arm_cloud = make_cloud(Recipe(targets=(), cloud=cloud, custom_cloud=custom or {}), opts)
    async with make_arm(arm_cloud, correlation_id, opts) as arm:
        found = await resolve(arm, selector, opts.settings.compute_api)
    if not found.vms:
        raise BadInput("select by rule: the selection matches no VM; check the rule")
    return found


def filter_rows(rows: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    """Rows whose name, location or image contains every word of the filter."""
    words = text.lower().split()
    return [
        r
        for r in rows
        if all(any(w in r[c].lower() for c in ("name", "location", "image")) for w in words)
    ]


async def fetch(
    opts: Options, cloud: str, what: str, *args: str, custom: dict[str, str] | None = None
) -> list[Any]:
    """One listing (subscriptions | groups | vms) through a short-lived ARM client.

    `custom` is the recipe's [custom_cloud] table, needed when cloud is "custom"."""
    from fipswizard.azure import inventory

    _, correlation_id = new_ids()
    arm_cloud = make_cloud(Recipe(targets=(), cloud=cloud, custom_cloud=custom or {}), opts)
    async with make_arm(arm_cloud, correlation_id, opts) as arm:
        if what == "subscriptions":
            return await inventory.list_subscriptions(arm)
        if what == "groups":
            return await inventory.list_resource_groups(arm, args[0])
        vms = await inventory.list_vms(arm, args[0], args[1], opts.settings.compute_api)
        return [inventory.vm_row(vm) for vm in vms]
