"""The prompter seam: how the engine asks the operator a question.

The TUI answers with modal screens; headless mode answers from `--yes` or stops with
exit code 4 (`ConfirmationNeeded`) when an answer is missing.
"""

from __future__ import annotations

from typing import Protocol

from fipswizard.errors import ConfirmationNeeded


class Prompter(Protocol):
    async def confirm(self, target: str, question: str) -> bool:
        """Ask before a disruptive or irreversible step; False declines it."""
        ...


class HeadlessPrompter:
    """Answers yes when `--yes` was given, otherwise refuses with a clear message."""

    def __init__(self, assume_yes: bool) -> None:
        self.assume_yes = assume_yes

    async def confirm(self, target: str, question: str) -> bool:
        if self.assume_yes:
            return True
        raise ConfirmationNeeded(
            f"{target}: needs confirmation: {question}\n"
            "  what to do: review `fipswizard plan RECIPE`, then re-run with --yes"
        )
