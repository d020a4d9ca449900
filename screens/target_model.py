"""The target screen's model: the chosen VMs across resource groups, and the ARM listings.

The listing coroutines run in the screen's workers; they return data and touch no widget.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fipswizard.context import Target
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

    def key(self, sub: str, rg: str, vm: str) -> str:
        return f"{sub}/{rg}/{vm}".lower()

    def is_chosen(self, sub: str, rg: str, vm: str) -> bool:
        return self.key(sub, rg, vm) in self.chosen

    def set(self, sub: str, rg: str, vm: str, on: bool, cloud: str) -> None:
        key = self.key(sub, rg, vm)
        if not on:
            self.chosen.pop(key, None)
        elif key not in self.chosen:
            guest = self.base.guest if self.base else "auto"
            self.chosen[key] = RecipeTarget(Target(sub, rg, vm, cloud), guest)

    def describe(self) -> str:
        if not self.chosen:
            return "No VM chosen yet: tick VMs with space (or ^A for all shown)."
        groups = {(rt.target.subscription, rt.target.resource_group) for rt in self.chosen.values()}
        names = ", ".join(rt.target.vm for rt in list(self.chosen.values())[:6])
        more = f" and {len(self.chosen) - 6} more" if len(self.chosen) > 6 else ""
        return f"{len(self.chosen)} VM(s) chosen in {len(groups)} resource group(s): {names}{more}"

    def recipe(self, cloud: str, fix: str) -> Recipe:
        """The recipe `apply` would replay, validated exactly as `apply` validates it."""
        targets = tuple(
            RecipeTarget(replace(rt.target, cloud=cloud), rt.guest) for rt in self.chosen.values()
        )
        if self.base is not None:
            recipe = replace(self.base, targets=targets, cloud=cloud, fix=fix)
        else:
            recipe = Recipe(targets=targets, cloud=cloud, fix=fix, path="<new recipe>")
        parsed = parse_recipe(dump_recipe(recipe), recipe.path)
        return replace(parsed, path=recipe.path)


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
