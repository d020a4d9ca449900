"""The engine's batched writes (issue 9): consecutive steps of one batch kind (the guest
recipe's scripts) change the guest in one Run Command.

Each step is still checked (from what the probe read ahead: no Run Command), journalled before
the one script is sent (`step-begin` with its undo facts), and settled on its own from the
script's per-step answers: applied, held (the check inside found it done), failed (the unit
ends), or not run (the batch stopped before it: the engine runs it alone next). A step that
needs a question first (not approved, or "ask again before each disruptive step") is never in
a batch. `Engine` (engine/run.py) mixes this in; the names declared below are its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, TypeVar

from fipswizard.context import ARM_WRITES, Context
from fipswizard.engine.events import (
    Event,
    StepFinished,
    StepOutput,
    StepStarted,
    StepStatus,
    TargetOutcome,
)
from fipswizard.engine.journal import Journal
from fipswizard.engine.prompter import AsksEachStep
from fipswizard.engine.steps import BatchOutcome, Outcome, Step
from fipswizard.errors import FipsWizardError
from fipswizard.secrets import redact

if TYPE_CHECKING:
    from fipswizard.engine.plan import Unit

T = TypeVar("T")


@dataclass
class _Failure(Exception):
    """The unit ends with `outcome` (raised through the steps, caught per unit)."""

    outcome: TargetOutcome
    detail: str


def _forget_reads(ctx: Context, step: Step) -> None:
    """A write that may change the guest makes what was read ahead of it stale."""
    if step.changes_guest and ctx.reads:
        ctx.reads.clear()


class BatchWriter:
    ctx: Context
    journal: Journal
    _approved: set[tuple[str, str]]
    _started: set[tuple[str, str]]
    _unfinished: set[tuple[str, str]]

    if TYPE_CHECKING:  # Engine's own (engine/run.py)

        def emit(self, event: Event) -> Event: ...

        def _progress(self, key: str, step_id: str) -> dict[str, object]: ...

        async def _guard(self, unit: Unit, step: Step, work: Awaitable[T]) -> T: ...

        def _fail(
            self,
            unit: Unit,
            step: Step,
            status: StepStatus,
            err: BaseException,
            outcome: TargetOutcome,
        ) -> NoReturn: ...

    def _batchable(self, unit: Unit, n: int) -> list[Step]:
        """The steps from `n` on that may change the guest in one script: consecutive, of one
        batch kind, and none that would need a question first (not approved by the gate, or
        "ask again before each disruptive step" is on): those run alone."""
        group: list[Step] = []
        asks = self._asks_each()
        for step in unit.steps[n:]:
            if not step.batch or (group and step.batch != group[0].batch):
                break
            if step.risk.needs_confirmation and (asks or (unit.key, step.id) not in self._approved):
                break
            group.append(step)
        return group

    async def _write_batch(
        self, ctx: Context, unit: Unit, group: list[Step], later: list[Step]
    ) -> int:
        """Check each step of `group` (answers the probe read ahead: no Run Command), then
        journal every needed one and send them in one script (`Step.apply_batch`), each
        checked again inside it. Returns how many steps of `group` are settled; the engine
        runs the rest one by one (the batch stopped before them)."""
        checked: list[tuple[Step, Outcome]] = []
        for step in group:
            sctx = ctx.bind(**self._progress(unit.key, step.id))
            self._announce(unit, step)
            checked.append((step, await self._guard(unit, step, step.check(sctx))))
        while checked and checked[0][1].done:
            self._held(unit, *checked.pop(0))  # nothing to do before the first change
        if not checked:
            return len(group)
        skipped = len(group) - len(checked)
        needed = [s for s, before in checked if not before.done]
        for step, before in checked:
            if not before.done:
                self._begin(unit, step, before)
        _forget_reads(ctx, needed[0])
        writes: list[dict[str, object]] = []
        token = ARM_WRITES.set(writes)
        first = checked[0][0]
        try:
            work = type(first).apply_batch(
                ctx.bind(**self._progress(unit.key, first.id)), checked, later
            )
            outcomes = await self._guard(unit, first, work)
        except asyncio.CancelledError:
            self._interrupted(unit, needed, writes)
            raise
        except _Failure:
            for step in needed:
                self._end(unit, step, "failed", "the batch script failed", writes)
            raise
        finally:
            ARM_WRITES.reset(token)
        return skipped + self._settle(unit, checked, outcomes, writes)

    def _settle(
        self,
        unit: Unit,
        checked: list[tuple[Step, Outcome]],
        outcomes: list[BatchOutcome],
        writes: list[dict[str, object]],
    ) -> int:
        """Journal and report each step's part of a batch, in order; the number of steps
        settled (a failure ends the unit; a step the batch did not run goes on alone)."""
        for n, ((step, before), done) in enumerate(zip(checked, outcomes, strict=True)):
            for line in done.lines:
                self.emit(StepOutput(unit.key, step.id, redact(line)))
            if done.status == "applied":
                self._end(unit, step, "applied", done.detail, writes)
                self.emit(
                    StepFinished(
                        unit.key,
                        step.id,
                        StepStatus.APPLIED,
                        redact(done.detail),
                        before=redact(before.detail),
                    )
                )
                continue
            if done.status == "held":
                if not before.done:
                    self._end(unit, step, "held", done.detail, writes)
                self._held(unit, step, Outcome(True, done.detail))
                continue
            failed = done.status == "failed"
            if failed and not before.done:
                self._end(unit, step, "failed", done.detail, writes)
            for rest, rest_before in checked[n + 1 if failed else n :]:
                if not rest_before.done:
                    self._end(unit, rest, "not-run", "the batch stopped before it", writes)
            if failed:
                err = done.error or FipsWizardError(done.detail)
                self._fail(unit, step, StepStatus.FAILED, err, TargetOutcome.FAILED)
            return n  # the batch did not run it: the engine goes on with it, alone
        return len(checked)

    # -- what a step's write journals and says, batched or alone ------------------------------

    def _asks_each(self) -> bool:
        """The TUI's "ask again before each disruptive step" is on."""
        prompter = self.ctx.prompter
        return isinstance(prompter, AsksEachStep) and prompter.ask_each

    def _announce(self, unit: Unit, step: Step) -> None:
        """StepStarted, once per step and unit (the read phase may have said it already)."""
        if (unit.key, step.id) not in self._started:
            self._started.add((unit.key, step.id))
            self.emit(StepStarted(unit.key, step.id, step.title, str(step.risk), role=step.role))

    def _begin(self, unit: Unit, step: Step, before: Outcome) -> None:
        """Journal the write before it is sent, with what its undo needs (the check's facts)."""
        self.journal.append(
            "step-begin", target=unit.key, step_id=step.id, step=step.record(), undo=before.facts
        )

    def _interrupted(self, unit: Unit, steps: list[Step], writes: list[dict[str, object]]) -> None:
        """Interrupted mid-write: left unfinished on purpose, so the next run resumes them."""
        for step in steps:
            self.journal.append(
                "step-interrupted", target=unit.key, step_id=step.id, arm_requests=writes
            )

    def _held(self, unit: Unit, step: Step, before: Outcome) -> None:
        if (unit.key, step.id) in self._unfinished:
            self.journal.append("step-skip", target=unit.key, step_id=step.id)
        self.emit(StepFinished(unit.key, step.id, StepStatus.SKIPPED, before.detail))

    def _end(
        self, unit: Unit, step: Step, status: str, detail: str, writes: list[dict[str, object]]
    ) -> None:
        self.journal.append(
            "step-end",
            target=unit.key,
            step_id=step.id,
            status=status,
            detail=detail,
            arm_requests=writes,
        )
