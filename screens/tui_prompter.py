"""The Prompter seam answered by the TUI: confirm() awaits a modal from the engine's worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from screens.dialogs import QuestionScreen, Reply
from screens.run_record import RunRecord

if TYPE_CHECKING:
    from screens.app import FipsWizardApp

Approval = Callable[[str, str], bool]


class TuiPrompter:
    """Asks through QuestionScreen unless the operator already approved this question.

    `approved(target, question)` covers what the confirm phase (or the rollback preview)
    already showed. Questions come one at a time even when several VMs ask at once.
    """

    def __init__(self, app: FipsWizardApp, record: RunRecord,
                 approved: Approval = lambda _target, _question: False) -> None:
        self.app, self.record, self.approved = app, record, approved
        self._one_at_a_time = asyncio.Lock()
        self._accept_all: set[str] = set()  # questions answered "accept for all VMs"

    async def confirm(self, target: str, question: str) -> bool:
        if self.approved(target, question):
            self.record.answer(target, question, True, "plan")
            return True
        async with self._one_at_a_time:
            if same_step(target, question) in self._accept_all:
                self.record.answer(target, question, True, "all")
                return True
            # The engine emits the diagnosis just before it asks; yield once so the event
            # consumer folds it into the record before the question is drawn.
            await asyncio.sleep(0)
            screen = QuestionScreen(target, question, self.record.diagnosis(target))
            reply: Reply = await self.app.push_screen_wait(screen)
            if reply is Reply.ALL:
                self._accept_all.add(same_step(target, question))
        accepted = reply is not Reply.NO
        self.record.answer(target, question, accepted)
        return accepted


def same_step(target: str, question: str) -> str:
    """The question with this VM's names taken out: equal for the same step on another VM."""
    return question.replace(target, "{target}").replace(target.rsplit("/", 1)[-1], "{vm}")
