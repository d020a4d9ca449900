"""What the one gate before the first write asks: the approval items of a run.

The engine reads every unit first (no write), then asks for every disruptive or irreversible
step that may still run, once, before anything is written. The TUI's Confirm screen lists the
same items from the plan alone (nothing read yet), so both come from `unit_items`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fipswizard.engine.plan import Plan, Unit
    from fipswizard.engine.steps import Step
    from fipswizard.recipe import Recipe


@dataclass(frozen=True)
class ApprovalItem:
    """One thing the operator approves before the first write."""

    target: str
    step_id: str
    kind: str  # the step's kind, e.g. "guest-reboot", "fix-reallocate"
    title: str
    cost: str  # what the operator pays: downtime, a changed IP address, ...
    conditional: bool  # "if needed": a fix that runs only when validation shows it is

    @property
    def key(self) -> tuple[str, str]:
        return (self.target, self.step_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        # "if needed" goes inside the kind's brackets: a title or cost may hold parentheses
        # itself, and a line reads badly with them nested (issue 11).
        when = ", if needed" if self.conditional else ""
        return f"{self.title} [{self.kind}{when}]: {self.cost}"


def unit_items(unit: Unit, start: int = 0) -> list[ApprovalItem]:
    """Items for the steps of `unit` from index `start` (its first step not yet done) on.

    A fix is asked as "if needed" when a step it repairs may still run."""
    items = [
        ApprovalItem(unit.key, s.id, s.kind, s.title, cost(s), False)
        for s in unit.steps[start:]
        if s.risk.needs_confirmation
    ]
    later = {s.id for s in unit.steps[start:]}
    seen: set[str] = set()
    for step_id, fix in unit.fixes.items():
        if step_id in later and fix.risk.needs_confirmation and fix.id not in seen:
            seen.add(fix.id)
            items.append(ApprovalItem(unit.key, fix.id, fix.kind, fix.title, cost(fix), True))
    return items


def cost(step: Step) -> str:
    """What the step costs the operator: its own confirmation text when it has one (downtime,
    an IP address that may change), else its risk."""
    from fipswizard.engine.steps import Step

    if type(step).confirmation is Step.confirmation:  # the generic text repeats the title
        return {"irreversible": "irreversible: rollback cannot undo it"}.get(
            str(step.risk), str(step.risk)
        )
    return step.confirmation()


def plan_items(plan: Plan) -> list[ApprovalItem]:
    """Every item the gate may ask for this plan when nothing is done yet (Confirm screen)."""
    return [item for unit in plan.units for item in unit_items(unit)]


def declined_by(recipe: Recipe) -> dict[str, tuple[str, ...]]:
    """Target key -> step ids or kinds the recipe declines (recorded decisions, e.g. the TUI's)."""
    out: dict[str, tuple[str, ...]] = {}
    for rt in recipe.targets:
        if rt.decline:
            out[rt.target.key] = tuple(rt.decline)
    return out


def is_declined(item: ApprovalItem, declined: Mapping[str, Iterable[str]]) -> bool:
    names = set(declined.get(item.target, ()))
    return item.step_id in names or item.kind in names


def by_target(items: Sequence[ApprovalItem]) -> dict[str, list[ApprovalItem]]:
    out: dict[str, list[ApprovalItem]] = {}
    for item in items:
        out.setdefault(item.target, []).append(item)
    return out


def needs_approval_message(
    items: Sequence[ApprovalItem],
    command: str,
    review: str = "fipswizard plan RECIPE",
    recipe_declines: bool = True,
) -> str:
    """The exit-4 message: per VM what needs approval, and the exact commands that show the
    plan and approve it (and, for a recipe's run, how to leave a step out)."""
    lines = [
        f"{len(items)} step(s) need approval before the first write; nothing has been changed:"
    ]
    for target, group in by_target(items).items():
        lines.append(f"  {target}:")
        lines += [f"    - {item.line()}" for item in group]
    lines.append(f"  what to do: review the plan: {review}")
    lines.append(f"  then approve and run: {command}")
    if recipe_declines:
        lines.append(
            "  (to leave a step out, list its id or kind in that VM's `decline` in the recipe)"
        )
    return "\n".join(lines)


def with_decisions(
    recipe: Recipe, declined: Mapping[str, Iterable[str]], skipped: Mapping[str, str]
) -> Recipe:
    """The recipe with the operator's decisions recorded per VM (the TUI saves this), so
    `apply --yes` replays exactly them: declined step ids, and VMs left out with a reason."""
    from dataclasses import replace

    targets = []
    for rt in recipe.targets:
        key = rt.target.key
        decline = tuple(dict.fromkeys([*rt.decline, *sorted(declined.get(key, ()))]))
        skip = rt.skip
        if key in skipped:  # one line of sensible length, as a recipe value must be
            skip = " ".join(skipped[key].split())[:300] or "left out by the operator"
        targets.append(replace(rt, decline=decline, skip=skip))
    return replace(recipe, targets=tuple(targets))
