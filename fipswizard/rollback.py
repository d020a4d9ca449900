"""Rollback: undo, in reverse order, every write a journal says was begun.

For a step begun in several runs, the facts from the *first* begin are the true "before"
state. What was already rolled back is skipped, so rollback can itself be resumed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fipswizard.context import Context, Target
from fipswizard.engine import RunnerFactory
from fipswizard.errors import FipsWizardError
from fipswizard.events import (
    Event,
    RunFinished,
    StepFinished,
    StepStarted,
    StepStatus,
    TargetFinished,
    TargetOutcome,
)
from fipswizard.journal import Begun, Journal
from fipswizard.secrets import redact
from fipswizard.steps import Step


@dataclass(frozen=True)
class Undo:
    begun: Begun
    step: Step

    def describe(self) -> str:
        return f"{self.begun.target}: undo '{self.step.title}'"


def pending_undos(journal: Journal, *, unregister_feature: bool = False) -> list[Undo]:
    done = journal.rolled_back()
    first: dict[tuple[str, str], Begun] = {}
    for b in journal.begun():
        first.setdefault((b.target, b.step_id), b)
    out = []
    for (target, step_id), b in reversed(list(first.items())):
        if (b.run_id, target, step_id) in done:
            continue
        rec = b.record
        params = dict(rec["params"])
        if params["kind"] == "feature":
            params["unregister"] = unregister_feature
        out.append(Undo(b, Step.from_record(rec["target"], rec["title"], rec["risk"], params)))
    return _guest_order(out)


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
        last_guest = max((i for i, u in enumerate(rest) if u.step.kind == "guest-script"),
                         default=len(rest) - 1)
        ordered += rest[: last_guest + 1] + reboots + late + rest[last_guest + 1 :]
    return ordered


def _target_of(key: str, cloud: str) -> Target | None:
    parts = key.split("/")
    return Target(parts[0], parts[1], parts[2], cloud) if len(parts) == 3 else None


async def run_rollback(
    undos: list[Undo],
    journal: Journal,
    ctx: Context,
    *,
    cloud: str,
    runner_factory: RunnerFactory | None = None,
) -> AsyncIterator[Event]:
    results: dict[str, TargetOutcome] = {}
    for undo in undos:
        b, step = undo.begun, undo.step
        target = _target_of(b.target, cloud)
        runner = runner_factory(target) if (runner_factory and target) else None
        sctx = ctx.bind(target=target, runner=runner)
        yield StepStarted(b.target, step.id, f"Roll back: {step.title}", str(step.risk))
        journal.append("rollback-begin", of_run=b.run_id, target=b.target, step_id=b.step_id)
        try:
            note = await step.rollback(sctx, b.undo)
        except FipsWizardError as err:
            text = redact(str(err))
            journal.append(
                "rollback-failed", of_run=b.run_id, target=b.target, step_id=b.step_id, detail=text
            )
            results[b.target] = TargetOutcome.FAILED
            yield StepFinished(
                b.target, step.id, StepStatus.FAILED, text, getattr(err, "advice", "")
            )
            continue
        journal.append(
            "rollback-end", of_run=b.run_id, target=b.target, step_id=b.step_id, detail=note
        )
        results.setdefault(b.target, TargetOutcome.COMPLIANT)
        yield StepFinished(b.target, step.id, StepStatus.APPLIED, note)
    for key, outcome in results.items():
        yield TargetFinished(
            key,
            outcome,
            "rolled back" if outcome is TargetOutcome.COMPLIANT else "rollback incomplete",
        )
    yield RunFinished("", results)
