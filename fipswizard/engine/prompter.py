"""The prompter seam: how the engine asks the operator.

The engine asks once per run, before the first write (`approve`), for every disruptive or
irreversible step that may run; a rollback asks the same way for its undos, its guest reboots
"if needed". The TUI answers with its Confirm (or Rollback) screen; headless mode answers from
`--yes` and the recipe's recorded declines, or stops with exit code 4 (`ConfirmationNeeded`).
The TUI may also "ask again before each disruptive step" (`AsksEachStep`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fipswizard.engine.approvals import ApprovalItem, is_declined, needs_approval_message
from fipswizard.engine.events import Diagnosed
from fipswizard.errors import ConfirmationNeeded

DEFAULT_COMMAND = "fipswizard apply RECIPE --yes"


class Prompter(Protocol):
    async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
        """The keys (target, step id) of the items approved; the rest are declined."""
        ...


@dataclass(frozen=True)
class StepQuestion:
    """The typed question "ask again before each disruptive step" puts: which step on which
    VM, its risk, and the diagnosis that proposed it (a fix) so the answer is informed."""

    target: str
    step_id: str
    title: str
    risk: str
    question: str  # the step's own sentence (Step.confirmation())
    diagnosis: Diagnosed | None = None


@runtime_checkable
class AsksEachStep(Protocol):
    """A prompter that may ask again before each approved disruptive step (the TUI's option)."""

    ask_each: bool

    async def ask_step(self, question: StepQuestion) -> bool: ...


@runtime_checkable
class AnswersAlone(Protocol):
    """A prompter whose `approve` never refuses and answers each item from that item alone
    (headless `--yes`): the engine may then gate and write each VM as soon as its own read
    ends, where any other prompter gets one question after every read (engine/run.py)."""

    @property
    def answers_alone(self) -> bool: ...


class HeadlessPrompter:
    """Approves with `--yes` (except what the recipe declines); otherwise refuses clearly."""

    def __init__(
        self,
        assume_yes: bool,
        declined: Mapping[str, Sequence[str]] | None = None,
        command: str | None = None,
        review: str | None = None,
        *,
        recipe_declines: bool = True,
    ) -> None:
        self.assume_yes = assume_yes
        self.declined = dict(declined or {})
        self.command = command  # the exact command that approves: printed when refusing
        self.review = review  # the exact command that shows the plan
        self.recipe_declines = recipe_declines  # False: no recipe to decline in (rollback)

    @property
    def answers_alone(self) -> bool:
        return self.assume_yes  # without --yes one pending item refuses the whole run

    async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
        pending = [i for i in items if not is_declined(i, self.declined)]
        if pending and not self.assume_yes:
            command = self.command or DEFAULT_COMMAND
            review = self.review or "fipswizard plan RECIPE"
            raise ConfirmationNeeded(
                needs_approval_message(pending, command, review, self.recipe_declines)
            )
        return {i.key for i in pending}
