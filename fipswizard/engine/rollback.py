"""Rollback: finish what interrupted runs left, then undo, per VM in reverse order, every
write a journal says was begun; VMs run concurrently under the recipe's bound.

Consistent states (the one definition; trust rule "a VM is always consistent"). At every
stop each VM is in one of:
  - platform flag on,  guest FIPS on;
  - platform flag off, guest FIPS off;
  - platform flag on,  guest FIPS off.
Never flag off with guest FIPS on: the guest could then not read the certificate package and
its extensions break. So the flag's undo runs only once every guest undo of that VM has
succeeded (and `VmFlagStep.rollback` itself refuses while the guest still reports FIPS mode).
If a guest undo fails or is refused, the flag stays on and the VM ends PARTLY_ROLLED_BACK,
saying what is left and how to finish; the kept undo is not journalled as done, so the same
rollback, run again once the cause is fixed, finishes it.

Only real changes are undone: read-only steps and writes ARM refused before anything
changed (`Step.changed_nothing`, e.g. the flag PUT's region refusal) are never undone nor
listed. For a step begun in several runs, the facts from the *first* begin are the true
"before" state. What was already rolled back is skipped, so rollback can itself be resumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import Any

from fipswizard.context import Context, Target
from fipswizard.engine.approvals import ApprovalItem, cost
from fipswizard.engine.events import (
    Event,
    RunFinished,
    StepFinished,
    StepOutput,
    StepStarted,
    StepStatus,
    TargetFinished,
    TargetOutcome,
)
from fipswizard.engine.journal import UNCHANGED, Begun, Journal
from fipswizard.engine.run import RunnerFactory
from fipswizard.engine.steps import Risk, Step
from fipswizard.errors import FipsWizardError
from fipswizard.secrets import redact

REBOOT_KIND = "guest-reboot"
GUEST_KINDS = frozenset({"guest-script", REBOOT_KIND})  # undos that change guest FIPS
FLAG_KIND = "vm-flag"
RECOVER_COST = "finishes or undoes what the interrupted run left"
FLAG_KEPT = (
    "the platform flag stays on, so that the VM stays consistent (guest FIPS may still be on)"
)


@dataclass(frozen=True)
class Undo:
    begun: Begun
    step: Step

    def describe(self) -> str:
        return f"{self.begun.target}: undo '{self.step.title}'"

    def preview(self) -> str:
        """One line of `rollback --plan`: what this undo does."""
        if self.step.kind == FLAG_KIND:
            return f"undo '{self.step.title}' (only if every guest undo above succeeded)"
        if self.step.kind == REBOOT_KIND:
            return f"reboot so that the undone changes take effect ('{self.step.title}')"
        if type(self.step).rollback is Step.rollback:
            return f"'{self.step.title}': nothing to undo"
        refused = _rollback_refused(self.step)
        if refused:
            return f"'{self.step.title}': its undo is refused ({refused}); the flag stays on"
        return f"undo '{self.step.title}'"

    def item(self) -> ApprovalItem:
        """What the rollback's gate asks for this undo. The guest reboot is "if needed": it
        reboots only when the undone changes need it, and asks nothing while running."""
        step = self.step
        reboot = step.kind == REBOOT_KIND
        if reboot:
            price = cost(step)  # the downtime, in the step's own words
        elif type(step).rollback is Step.rollback:
            price = "nothing is sent"
        else:
            price = "puts back what the run changed"
        return ApprovalItem(
            self.begun.target, self.begun.step_id, step.kind, self.preview(), price, reboot
        )


def _rollback_refused(step: Step) -> str:
    """Why a guest recipe refuses this step's undo (e.g. Ubuntu 24.04), or ""."""
    spec = getattr(step, "spec", None)
    try:
        return str(getattr(spec, "rollback_refused", "") or "").split(";")[0]
    except Exception:  # an unreadable recipe: the undo itself will say so
        return ""


def _step_of(b: Begun, unregister_feature: bool = False) -> Step:
    rec = b.record
    params = dict(rec["params"])
    if params["kind"] == "feature":
        params["unregister"] = unregister_feature
    return Step.from_record(rec["target"], rec["title"], rec["risk"], params)


def _ends(journal: Journal) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (r["run"], r["target"], r["step_id"]): r
        for r in journal.records()
        if r["event"] == "step-end"
    }


def pending_undos(journal: Journal, *, unregister_feature: bool = False) -> list[Undo]:
    done = journal.rolled_back()
    ends = _ends(journal)
    first: dict[tuple[str, str], Begun] = {}
    tries: dict[tuple[str, str], list[Begun]] = {}
    for b in journal.begun():
        first.setdefault((b.target, b.step_id), b)
        tries.setdefault((b.target, b.step_id), []).append(b)
    out = []
    for (target, step_id), b in reversed(list(first.items())):
        if (b.run_id, target, step_id) in done:
            continue
        step = _step_of(b, unregister_feature)
        if step.risk is Risk.READ_ONLY:
            continue  # nothing was changed: nothing to undo
        tried = [ends.get((t.run_id, target, step_id), {}) for t in tries[(target, step_id)]]
        if all(
            e.get("status") in UNCHANGED
            or (e.get("status") == "failed" and step.changed_nothing(str(e.get("detail", ""))))
            for e in tried
        ):
            continue  # no attempt changed anything (refused first, held, or never run)
        out.append(Undo(b, step))
    return _guest_order(out)


def pending_recoveries(journal: Journal) -> list[Undo]:
    """Every begun write that did not end well (killed, interrupted or failed) of a step
    that can recover, newest first, unless a later `recover` or its rollback dealt with it."""
    records = journal.records()
    begun = {(b.run_id, b.target, b.step_id): b for b in journal.begun()}
    open_: dict[tuple[str, str, str], Begun] = {}
    for r in records:
        event = r["event"]
        if event == "step-begin":
            key = (r["run"], r["target"], r["step_id"])
            open_[key] = begun[key]
        elif event == "step-end" and r.get("status") != "failed":
            open_.pop((r["run"], r["target"], r["step_id"]), None)
        elif event == "recover":
            for key in [k for k in open_ if k[1:] == (r["target"], r["step_id"])]:
                del open_[key]
        elif event == "rollback-end":
            open_.pop((r["of_run"], r["target"], r["step_id"]), None)
    out = []
    for b in reversed(list(open_.values())):
        step = _step_of(b)
        if type(step).recover is not Step.recover:
            out.append(Undo(b, step))
    return out


def _guest_order(undos: list[Undo]) -> list[Undo]:
    """Reverse order per target, except inside the guest: its reboot comes once the changes
    made before it are undone (so they take effect), and steps marked rollback_after_reboot
    (the 2.7.0.6 daemon patch, which must outlive FIPS mode) come after that reboot."""
    ordered: list[Undo] = []
    for target in dict.fromkeys(u.begun.target for u in undos):
        mine = [u for u in undos if u.begun.target == target]
        reboots = [u for u in mine if u.step.kind == "guest-reboot"]
        late = [u for u in mine if u.step.params.get("rollback_after_reboot")]
        rest = [u for u in mine if u not in reboots and u not in late]
        last_guest = max(
            (i for i, u in enumerate(rest) if u.step.kind == "guest-script"),
            default=len(rest) - 1,
        )
        ordered += rest[: last_guest + 1] + reboots + late + rest[last_guest + 1 :]
    return ordered


def approval_items(undos: list[Undo], recoveries: list[Undo]) -> list[ApprovalItem]:
    """Everything rollback asks before it sends anything, once, in the order `plan_lines`
    lists it: per VM its recoveries, then its undos. A step both interrupted and begun is one
    item: approving it covers finishing it and undoing it."""
    items: dict[tuple[str, str], ApprovalItem] = {}
    for target in _targets(undos, recoveries):
        for r in recoveries:
            if r.begun.target == target:
                title = f"finish or undo the interrupted '{r.step.title}'"
                item = ApprovalItem(
                    target, r.begun.step_id, r.step.kind, title, RECOVER_COST, False
                )
                items.setdefault(item.key, item)
        for u in undos:
            if u.begun.target == target:
                items.setdefault(u.item().key, u.item())
    return list(items.values())


def _targets(undos: list[Undo], recoveries: list[Undo]) -> list[str]:
    return list(dict.fromkeys(u.begun.target for u in [*recoveries, *undos]))


def plan_lines(undos: list[Undo], recoveries: list[Undo]) -> list[str]:
    """`rollback --plan`: per VM, in the order they will run, what rollback would do."""
    lines: list[str] = []
    for target in _targets(undos, recoveries):
        lines.append(target)
        n = 0
        for u in recoveries:
            if u.begun.target == target:
                n += 1
                lines.append(f"  {n}. finish or undo the interrupted '{u.step.title}'")
        for u in undos:
            if u.begun.target == target:
                n += 1
                lines.append(f"  {n}. {u.preview()}")
    return lines


def _target_of(key: str, cloud: str) -> Target | None:
    return Target.from_key(key, cloud)


@dataclass
class _TargetRun:
    """One target's rollback: its recoveries, then its undos in order."""

    key: str
    ctx: Context
    journal: Journal
    emit: Any
    approved: Collection[tuple[str, str]]
    left: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    guest_failed: bool = False

    async def recover(self, r: Undo) -> None:
        b, step = r.begun, r.step
        if (b.target, b.step_id) not in self.approved:
            self.left.append(f"declined: finishing the interrupted '{step.title}'")
            self.guest_failed = True  # the VM's state is unknown: keep the flag as it is
            return
        try:
            note = await step.recover(self.ctx, b.undo)
        except FipsWizardError as err:
            self._failed(step, err, f"finishing the interrupted '{step.title}'")
            self.guest_failed = True  # the VM's state is unknown: keep the flag as it is
            return
        if note:
            self.journal.append(
                "recover", target=b.target, step_id=b.step_id, of_run=b.run_id, detail=note
            )
            self.emit(StepOutput(self.key, step.id, redact(f"recovered: {note}")))

    async def undo(self, u: Undo) -> None:
        b, step = u.begun, u.step
        title = f"Roll back: {step.title}"
        self.emit(StepStarted(b.target, step.id, title, str(step.risk), role=step.role))
        if step.kind == FLAG_KIND and self.guest_failed:
            self.left.append(FLAG_KEPT)
            self.emit(StepFinished(b.target, step.id, StepStatus.SKIPPED, FLAG_KEPT))
            return
        # The reboot is asked "if needed": it runs its check and reads its approval itself.
        if (b.target, b.step_id) not in self.approved and step.kind != REBOOT_KIND:
            self.left.append(f"declined: undo '{step.title}'")
            self.guest_failed = self.guest_failed or step.kind in GUEST_KINDS
            self.emit(StepFinished(b.target, step.id, StepStatus.DECLINED, "declined"))
            return
        self.journal.append("rollback-begin", of_run=b.run_id, target=b.target, step_id=b.step_id)
        try:
            note = await step.rollback(self.ctx, b.undo)
        except FipsWizardError as err:
            text = redact(str(err))
            self.journal.append(
                "rollback-failed", of_run=b.run_id, target=b.target, step_id=b.step_id, detail=text
            )
            self._failed(step, err, step.title)
            self.guest_failed = self.guest_failed or step.kind in GUEST_KINDS
            return
        self.journal.append(
            "rollback-end", of_run=b.run_id, target=b.target, step_id=b.step_id, detail=note
        )
        self.emit(StepFinished(b.target, step.id, StepStatus.APPLIED, note))

    def _failed(self, step: Step, err: FipsWizardError, what: str) -> None:
        text = redact(str(err))
        advice = str(getattr(err, "advice", ""))
        first = text.splitlines()[0]
        self.left.append(first if first.startswith(what) else f"{what}: {first}")
        if advice:
            self.advice.append(advice.rstrip(". ") + ".")
        self.emit(StepFinished(self.key, step.id, StepStatus.FAILED, text, advice))

    def finish(self) -> TargetOutcome:
        if not self.left:
            self.emit(TargetFinished(self.key, TargetOutcome.ROLLED_BACK, "every change undone"))
            return TargetOutcome.ROLLED_BACK
        detail = (
            f"left: {'; '.join(self.left)}. To finish: "
            + " ".join(dict.fromkeys(self.advice))
            + " Then run the same rollback again: what is undone is skipped."
        )
        self.emit(TargetFinished(self.key, TargetOutcome.PARTLY_ROLLED_BACK, redact(detail)))
        return TargetOutcome.PARTLY_ROLLED_BACK


async def run_rollback(
    undos: list[Undo],
    journal: Journal,
    ctx: Context,
    *,
    cloud: str,
    runner_factory: RunnerFactory | None = None,
    approved: Collection[tuple[str, str]],
    recoveries: list[Undo] | None = None,
    concurrency: int = 8,
) -> AsyncIterator[Event]:
    """Per target: recoveries first, then its undos in order. VMs concurrently under
    `concurrency`; subscription targets (the feature) once every VM is done. Only what
    `approved` names (keys of `approval_items`) runs; a declined guest undo keeps the flag."""
    approved = frozenset(approved)
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    gate = asyncio.Semaphore(max(1, concurrency))
    recs = recoveries or []
    keys = list(dict.fromkeys(u.begun.target for u in [*recs, *undos]))

    async def one(key: str) -> tuple[str, TargetOutcome]:
        target = _target_of(key, cloud)
        runner = runner_factory(target) if (runner_factory and target) else None
        bound = ctx.bind(target=target, runner=runner, approved=approved)
        run = _TargetRun(key, bound, journal, queue.put_nowait, approved)
        async with gate:
            for r in recs:
                if r.begun.target == key:
                    await run.recover(r)
            for u in undos:
                if u.begun.target == key:
                    await run.undo(u)
        return key, run.finish()

    async def all_targets() -> dict[str, TargetOutcome]:
        try:
            vms = [k for k in keys if _target_of(k, cloud) is not None]
            results = dict(await asyncio.gather(*map(one, vms)))
            for key in keys:
                if key not in results:
                    results[key] = (await one(key))[1]
            return results
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(all_targets())
    try:
        while (event := await queue.get()) is not None:
            yield event
    finally:
        if not task.done():
            task.cancel()
    yield RunFinished("", await task)
