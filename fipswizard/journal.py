"""The journal: append-only JSON lines, written before and after every write.

It holds what rollback and resume need: the step records (enough to rebuild each step),
the facts read just before each write (previous values, backup paths), and the outcome.
Each line is flushed and fsynced, so a run killed at any point leaves a readable journal;
a torn last line (SIGKILL mid-write) is ignored on read. Lines pass through `redact`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fipswizard.errors import BadInput
from fipswizard.secrets import redact


@dataclass(frozen=True)
class Begun:
    """A write that was started: its step record and the facts from just before it."""

    run_id: str
    target: str
    step_id: str
    record: dict[str, Any]
    undo: dict[str, Any]
    finished: bool


class Journal:
    def __init__(self, path: str | Path, run_id: str = "") -> None:
        self.path = Path(path)
        self.run_id = run_id

    @staticmethod
    def default_for(recipe_path: str | Path) -> Path:
        p = Path(recipe_path)
        return p.with_name(p.stem + ".journal.jsonl")

    def append(self, event: str, **fields: Any) -> None:
        entry = {"ts": round(time.time(), 3), "run": self.run_id, "event": event, **fields}
        line = redact(json.dumps(entry, sort_keys=True, default=str)) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out: list[dict[str, Any]] = []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                if n == len(lines):
                    break  # torn last line from a killed run
                raise BadInput(f"{self.path}:{n}: not a fipswizard journal line") from None
        return out

    def begun(self) -> list[Begun]:
        """Every write begun, in order, across all runs, with whether it finished."""
        records = self.records()
        ends = {(r["run"], r["target"], r["step_id"]) for r in records if r["event"] == "step-end"}
        return [
            Begun(
                r["run"],
                r["target"],
                r["step_id"],
                r["step"],
                r.get("undo", {}),
                (r["run"], r["target"], r["step_id"]) in ends,
            )
            for r in records
            if r["event"] == "step-begin"
        ]

    def unfinished(self) -> set[tuple[str, str]]:
        """(target, step_id) pairs begun in an earlier run and never finished since."""
        pending: dict[tuple[str, str], bool] = {}
        for r in self.records():
            key = (r.get("target", ""), r.get("step_id", ""))
            if r["event"] == "step-begin":
                pending[key] = True
            elif r["event"] in ("step-end", "step-skip"):
                pending[key] = False
        return {k for k, v in pending.items() if v}

    def rolled_back(self) -> set[tuple[str, str, str]]:
        return {
            (r["of_run"], r["target"], r["step_id"])
            for r in self.records()
            if r["event"] == "rollback-end"
        }
