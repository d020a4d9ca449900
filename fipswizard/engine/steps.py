"""The unit of work: a Step with check / apply / verify / rollback, and what it previews.

Every step is idempotent: the engine calls `check` first and skips what already holds,
so a second run of the same recipe sends no write. `check` is read-only. Whatever
rollback needs (previous values, backup paths) goes into `Outcome.facts` from `check`;
the engine journals those facts *before* calling `apply`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from fipswizard.engine.events import StepRole

if TYPE_CHECKING:
    from fipswizard.context import Context


class Risk(StrEnum):
    READ_ONLY = "read-only"
    REVERSIBLE = "reversible"
    DISRUPTIVE = "disruptive"  # downtime: reboot, deallocate
    IRREVERSIBLE = "irreversible"

    @property
    def needs_confirmation(self) -> bool:
        return self in (Risk.DISRUPTIVE, Risk.IRREVERSIBLE)


@dataclass(frozen=True)
class HttpAction:
    """One ARM request exactly as it will be sent (secrets already masked)."""

    method: str
    url: str
    body: Any = None
    note: str = ""

    @property
    def is_write(self) -> bool:
        return self.method.upper() not in ("GET", "HEAD")


@dataclass(frozen=True)
class ScriptAction:
    """One guest script exactly as it will run (through Run Command, locally or in tests)."""

    script: str
    phase: str = "apply"
    secrets: tuple[str, ...] = ()  # names of secrets the script receives as variables
    note: str = ""


Action = HttpAction | ScriptAction


@dataclass
class Outcome:
    """Result of `check` or `verify`: does the desired state hold?"""

    done: bool
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchOutcome:
    """What one step of a batch did: `applied` (changed and verified), `held` (its check
    inside the batch found nothing to do), `failed` (`error` says why), or `not-run` (the
    batch stopped before it)."""

    status: str
    detail: str = ""
    lines: tuple[str, ...] = ()  # its output, for the step's log
    after: Outcome | None = None
    error: Exception | None = None


class Step(ABC):
    """A resolved step for one target. Subclasses set `kind` and register themselves."""

    kind: ClassVar[str] = ""
    role: ClassVar[StepRole] = StepRole.CHANGE  # validation steps and fixes say so here
    registry: ClassVar[dict[str, type[Step]]] = {}

    # Consecutive steps of the same non-empty `batch` kind may change the guest in one script
    # (one Run Command): the engine hands them to `apply_batch` together (issue 9).
    batch: ClassVar[str] = ""
    # False for a write that cannot change what a guest script reads (the VM model's flag):
    # the guest checks read ahead stay valid across it.
    changes_guest: ClassVar[bool] = True

    def __init__(self, target: str, title: str, risk: Risk, params: dict[str, Any]) -> None:
        self.target = target
        self.title = title
        self.risk = risk
        self.params = params  # JSON-serialisable; rebuilds the step from a journal

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Step.registry[cls.kind] = cls

    @property
    def id(self) -> str:
        return str(self.params.get("id", self.kind))

    def confirmation(self) -> str:
        """What the operator is asked before a disruptive step (cost included)."""
        return f"{self.title} on {self.target} ({self.risk})"

    @abstractmethod
    def actions(self) -> list[Action]:
        """The exact requests and scripts `apply` sends: the dry-run preview."""

    @abstractmethod
    async def check(self, ctx: Context) -> Outcome: ...

    @abstractmethod
    async def apply(self, ctx: Context, before: Outcome) -> None: ...

    async def verify(self, ctx: Context) -> Outcome:
        return await self.check(ctx)

    def read_script(self) -> str | None:
        """The read-only guest script `check` runs, when it runs one: an earlier Run Command
        of the same unit may run it ahead and keep the answer (`Context.reads`)."""
        return None

    @classmethod
    async def apply_batch(
        cls, ctx: Context, todo: Sequence[tuple[Step, Outcome]], later: Sequence[Step]
    ) -> list[BatchOutcome]:
        """Bring the steps of `todo` (each with its check's outcome, in order) to their
        desired state in one go, and read ahead for the `later` steps. Only for a `batch`
        kind; returns one BatchOutcome per step of `todo`, in order."""
        raise NotImplementedError(f"{cls.kind} steps are not batched")

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        """Undo what `apply` changed, given the facts journalled before it; return a note."""
        return "nothing to roll back"

    async def recover(self, ctx: Context, undo: dict[str, Any]) -> str | None:
        """Finish or undo an operation that was interrupted after `step-begin` (a kill between
        two requests of a disruptive or multi-request `apply`), from the facts `check`
        returned (journalled before `apply`). The engine calls it at the start of the next
        apply, rollback calls it first. Return what was done, or None when nothing was left.
        Must be idempotent: it may run after an `apply` that in fact completed."""
        return None

    def changed_nothing(self, failure: str) -> bool:
        """True when a failed apply's journalled detail shows the write was refused before
        anything changed (e.g. ARM's region refusal): rollback then neither undoes nor
        lists the step."""
        return False

    @classmethod
    def from_record(cls, target: str, title: str, risk: str, params: dict[str, Any]) -> Step:
        """Rebuild a step from its journal record (for rollback)."""
        return Step.registry[params["kind"]](target, title, Risk(risk), params)

    def record(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "title": self.title,
            "risk": str(self.risk),
            "params": {**self.params, "kind": self.kind},
        }
