"""Typed, past-tense events the engine yields; both front ends consume the same stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class StepStatus(StrEnum):
    SKIPPED = "skipped"  # already done: nothing sent
    APPLIED = "applied"
    FAILED = "failed"
    DECLINED = "declined"  # the operator said no
    BLOCKED = "blocked"  # an earlier step failed


class TargetOutcome(StrEnum):
    COMPLIANT = "compliant"
    FAILED = "failed"
    REGION_NOT_SUPPORTED = "region not supported"
    DECLINED = "declined"
    BLOCKED = "blocked"
    NEEDS_CONFIRMATION = "needs confirmation"
    AUTH_FAILED = "authentication failed"
    # Rollback: every undo ran; or some could not, and the VM was kept consistent (see
    # fipswizard/engine/rollback.py for the consistent states) with what is left said in the detail.
    ROLLED_BACK = "rolled back"
    PARTLY_ROLLED_BACK = "partly rolled back"


class StepRole(StrEnum):
    """What a step is for, declared by its class (Step.role), carried on StepStarted: the run
    model and the screens group the validation phase by it, never by the step id's spelling."""

    CHANGE = "change"
    VALIDATION = "validation"  # proves the guest works (an extension PUT), changes nothing lasting
    FIX = "fix"  # proposed by a failed validation's diagnosis


DONE = (TargetOutcome.COMPLIANT, TargetOutcome.ROLLED_BACK)  # ended as the command intended


@dataclass(frozen=True)
class Event:
    target: str
    # When the engine emitted it, in seconds of its monotonic clock (time.monotonic unless a
    # test injects one): durations are differences of these, immune to wall-clock jumps.
    at: float = field(default=0.0, kw_only=True)


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    correlation_id: str
    targets: tuple[str, ...] = ()
    wall_time: float = 0.0  # seconds since the epoch (UTC): the report's start time


@dataclass(frozen=True)
class StepStarted(Event):
    step_id: str
    title: str
    risk: str
    role: StepRole = field(default=StepRole.CHANGE, kw_only=True)


@dataclass(frozen=True)
class StepOutput(Event):
    """A progress line: waiting on an operation, a poll, script output."""

    step_id: str
    text: str
    fraction: float | None = None


@dataclass(frozen=True)
class Diagnosed(Event):
    """Validation failed with a known signature; the engine proposes a fix (guest/diagnose.py).

    `cause` is the signature's id, `explanation` why it fails, `cost` what the fix costs the
    VM (downtime...), `fix` the proposed fix step's title and `fix_step` its id.
    """

    step_id: str
    cause: str
    explanation: str
    cost: str
    fix: str
    fix_step: str = ""


@dataclass(frozen=True)
class Finding(Event):
    """A preflight verdict about one VM, read before anything is written (engine/findings.py).

    `level` is one of FINDING_LEVELS; `code` names the check (stable, for scripts)."""

    level: str
    code: str
    text: str


FINDING_LEVELS = ("ok", "info", "warning", "refusal")


@dataclass(frozen=True)
class StepFinished(Event):
    """`detail` is the error's message (or the check's state); `advice` and `code` are the
    error's own fields, never split out of the text."""

    step_id: str
    status: StepStatus
    detail: str = ""
    advice: str = ""
    code: str = ""
    before: str = ""  # an applied step: its check's state just before the write


@dataclass(frozen=True)
class TargetFinished(Event):
    outcome: TargetOutcome
    detail: str = ""


@dataclass(frozen=True)
class RunFinished(Event):
    outcomes: dict[str, TargetOutcome] = field(default_factory=dict)
    wall_time: float = 0.0  # seconds since the epoch (UTC): the report's end time

    @property
    def ok(self) -> bool:
        return all(o in DONE for o in self.outcomes.values())
