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


DONE = (TargetOutcome.COMPLIANT, TargetOutcome.ROLLED_BACK)  # ended as the command intended


@dataclass(frozen=True)
class Event:
    target: str


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    correlation_id: str
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepStarted(Event):
    step_id: str
    title: str
    risk: str


@dataclass(frozen=True)
class StepOutput(Event):
    """A progress line: waiting on an operation, a poll, script output."""

    step_id: str
    text: str
    fraction: float | None = None


@dataclass(frozen=True)
class StepFinished(Event):
    step_id: str
    status: StepStatus
    detail: str = ""
    advice: str = ""


@dataclass(frozen=True)
class TargetFinished(Event):
    outcome: TargetOutcome
    detail: str = ""


@dataclass(frozen=True)
class RunFinished(Event):
    outcomes: dict[str, TargetOutcome] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(o in DONE for o in self.outcomes.values())
