"""What a journal says is already done, for the phases shown before a resumed run.

After a resume, Preflight, Plan and Confirm must not count steps as if nothing had run: the
journal's `step-end` (status "applied") and `step-skip` records are the steps an earlier run
finished, unless a later `rollback-end` undid them. Read from the typed journal records, not
from any rendered text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fipswizard.engine.journal import Journal

DONE_STATUSES = ("applied",)


@dataclass(frozen=True)
class JournalDone:
    """The journal a run resumes from and the (target, step id) pairs it already finished."""

    path: Path
    applied: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    skipped: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def steps(self) -> frozenset[tuple[str, str]]:
        return self.applied | self.skipped

    def note(self) -> str:
        """One line for the screens before the run (plain text: the caller escapes it)."""
        if not self.steps:
            return f"Resuming {self.path}: the earlier run finished no step yet."
        return (
            f"Resuming {self.path}: {len(self.steps)} step(s) already done by the earlier "
            f"run, {len(self.applied)} applied and {len(self.skipped)} found done; the run "
            "checks them again and skips them."
        )


def journal_done(path: Path) -> JournalDone:
    """Fold the journal's records; a record the journal cannot parse raises its clear error."""
    state: dict[tuple[str, str], str] = {}
    for record in Journal(path).records():
        event = record["event"]
        if event not in ("step-end", "step-skip", "rollback-end"):
            continue
        key = (str(record["target"]), str(record["step_id"]))
        if event == "step-end":
            status = str(record.get("status", ""))
            state[key] = "applied" if status in DONE_STATUSES else "not done"
        elif event == "step-skip":
            state.setdefault(key, "skipped")  # a skip after an apply keeps "applied"
            if state[key] == "not done":
                state[key] = "skipped"
        else:
            state[key] = "not done"  # rolled back: to be done again
    return JournalDone(
        path,
        frozenset(k for k, v in state.items() if v == "applied"),
        frozenset(k for k, v in state.items() if v == "skipped"),
    )
