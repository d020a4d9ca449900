"""Exception types and the documented process exit codes.

Exit codes are an API for scripts and pipelines: never renumber them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # every target ended compliant (or the command did what it said)
    STEP_FAILED = 1  # at least one target failed a step or is not compliant
    BAD_INPUT = 2  # usage error, malformed recipe or journal, bad flag value
    AUTH = 3  # no credential, or ARM refused it (401/403)
    NEEDS_CONFIRMATION = 4  # a disruptive step needs --yes (headless) or a missing answer
    INTERRUPTED = 130  # Ctrl-C; the journal holds the state for resume


ADVICE_SEP = "\n  what to do: "  # how `str(err)` joins message and advice for a terminal


class FipsWizardError(Exception):
    """Base class: `str(err)` is a complete, operator-facing message.

    The parts are fields so front ends never parse the text back: `message` (what happened),
    `advice` (what to do; may be empty) and `code` (the ARM error code, else the kind of error).
    """

    exit_code = ExitCode.STEP_FAILED
    message: str
    advice: str
    code: str

    def __init__(self, message: str = "", advice: str = "", code: str = "") -> None:
        super().__init__(message if not advice else f"{message}{ADVICE_SEP}{advice}")
        # A subclass that set its own fields before calling us (ArmError) keeps them.
        fields = vars(self)
        fields.setdefault("message", message)
        fields.setdefault("advice", advice)
        fields.setdefault("code", code or type(self).__name__)

    def headline(self) -> str:
        """What happened, without the advice: the step's detail in events and summaries."""
        return self.message


class BadInput(FipsWizardError):
    exit_code = ExitCode.BAD_INPUT


class RecipeError(BadInput):
    """A malformed recipe: names the file, line (when known) and key."""

    def __init__(
        self,
        path: str,
        key: str,
        problem: str,
        *,
        line: int | None = None,
        found: object = None,
        allowed: str | None = None,
    ) -> None:
        where = f"{path}:{line}" if line else path
        text = f"{where}: key '{key}': {problem}"
        if found is not None:
            text += f" (found {found!r})"
        if allowed:
            text += f"; allowed: {allowed}"
        super().__init__(text, code="RecipeError")
        self.path, self.key, self.line = path, key, line


class RecipeProblems(RecipeError):
    """Several problems in one recipe: each on its own line (at most MAX_SHOWN of them)."""

    MAX_SHOWN = 8

    def __init__(self, problems: list[RecipeError]) -> None:
        first = problems[0]
        shown = [str(p) for p in problems[: self.MAX_SHOWN]]
        more = len(problems) - len(shown)
        text = f"{len(problems)} problems in {first.path}:\n  " + "\n  ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        FipsWizardError.__init__(self, text, code="RecipeError")
        self.path, self.key, self.line = first.path, first.key, first.line
        self.problems = problems


class AuthError(FipsWizardError):
    exit_code = ExitCode.AUTH


class ConfirmationNeeded(FipsWizardError):
    exit_code = ExitCode.NEEDS_CONFIRMATION


class StepError(FipsWizardError):
    """A step failed; `advice` tells the operator what to do next."""
