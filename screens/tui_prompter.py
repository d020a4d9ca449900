"""The Prompter seam answered by the TUI.

`approve` (the engine's one gate before the first write, and the rollback's) returns what
the Confirm or Rollback screen approved, and opens one modal only for items that screen could
not show. `ask_step` asks through QuestionScreen for the optional "ask again before each
disruptive step" (`ask_each`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fipswizard.engine.approvals import ApprovalItem
from fipswizard.engine.prompter import StepQuestion
from screens.approval_dialog import ApprovalScreen
from screens.dialogs import QuestionScreen, Reply
from screens.run_record import RunRecord

if TYPE_CHECKING:
    from screens.app import FipsWizardApp

Keys = frozenset[tuple[str, str]]


class TuiPrompter:
    """Questions come one at a time even when several VMs ask at once.

    `gate` and `known`: what the Confirm (or Rollback) screen approved, and what it showed.
    """

    def __init__(
        self,
        app: FipsWizardApp,
        record: RunRecord,
        *,
        gate: Keys = frozenset(),
        known: Keys = frozenset(),
        ask_each: bool = False,
    ) -> None:
        self.app, self.record = app, record
        self.gate, self.known, self.ask_each = gate, known, ask_each
        self._one_at_a_time = asyncio.Lock()
        self._accept_all: set[str] = set()  # step ids answered "accept for all VMs"
        self._batches: dict[str, _Batch] = {}  # step id -> the question waiting or open

    async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
        chosen = {i.key for i in items if i.key in self.gate}
        for item in items:
            if item.key in self.known:
                self._decided(item, item.key in chosen, "plan")
        unknown = [i for i in items if i.key not in self.known]
        if unknown:
            async with self._one_at_a_time:
                extra: set[tuple[str, str]] = await self.app.push_screen_wait(
                    ApprovalScreen(unknown)
                )
            for item in unknown:
                self._decided(item, item.key in extra, "gate")
            chosen |= extra
        return chosen

    def _decided(self, item: ApprovalItem, accepted: bool, how: str) -> None:
        self.record.answer(item.target, item.line(), accepted, how)
        if not accepted:  # recorded even when the step is never reached (a fix not needed)
            self.record.declined.setdefault(item.target, set()).add(item.step_id)

    async def ask_step(self, question: StepQuestion) -> bool:
        """Ask again before one approved disruptive step. The same step (by id) asked on
        several VMs is one question with a per-VM list: a VM that asks while the question is
        waiting or open joins it, and the answer covers each VM listed (all, the ticked ones,
        or none). "Accept for all" also answers VMs that ask that step later. The engine hands
        over the diagnosis that proposed a fix with the question, so the dialog never waits for
        an event to arrive first."""
        step_id = question.step_id
        if step_id in self._accept_all:
            self.record.answer(question.target, question.question, True, "all")
            return True
        batch = self._batches.get(step_id)
        if batch is not None:  # the same step is already waiting for an answer: join it
            return await batch.join(question)
        batch = self._batches[step_id] = _Batch(question)
        try:
            async with self._one_at_a_time:
                if step_id in self._accept_all:
                    chosen, how = set(batch.targets()), "all"
                else:
                    screen = QuestionScreen(question.target, question.question, question.diagnosis)
                    batch.open(screen)
                    reply: Reply = await self.app.push_screen_wait(screen)
                    if reply is Reply.ALL:
                        self._accept_all.add(step_id)
                    chosen, how = _chosen(reply, screen), "asked"
        except BaseException:
            batch.abandon()
            raise
        finally:
            del self._batches[step_id]  # a VM asking from now on starts a new question
        for asked in batch.questions:
            self.record.answer(asked.target, asked.question, asked.target in chosen, how)
        batch.settle(chosen)
        return question.target in chosen


def _chosen(reply: Reply, screen: QuestionScreen) -> set[str]:
    if reply is Reply.ALL:
        return set(screen.targets)
    return screen.chosen if reply is Reply.YES else set()


class _Batch:
    """The VMs one question covers: the first asker shows it, the others await its answer."""

    def __init__(self, first: StepQuestion) -> None:
        self.questions = [first]
        self.waiting: list[asyncio.Future[bool]] = []
        self.screen: QuestionScreen | None = None

    def targets(self) -> list[str]:
        return [q.target for q in self.questions]

    async def join(self, question: StepQuestion) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.questions.append(question)
        self.waiting.append(answer)
        if self.screen is not None:
            self.screen.add_target(question.target)
        return await answer

    def open(self, screen: QuestionScreen) -> None:
        self.screen = screen
        for q in self.questions[1:]:
            screen.add_target(q.target)

    def settle(self, chosen: set[str]) -> None:
        for q, answer in zip(self.questions[1:], self.waiting, strict=True):
            if not answer.done():
                answer.set_result(q.target in chosen)

    def abandon(self) -> None:
        """The asker was cancelled (Ctrl+X): the VMs waiting on its question stop too."""
        for answer in self.waiting:
            answer.cancel()
