"""The journal: append-only JSON lines, written before and after every write.

It holds what rollback and resume need: the step records (enough to rebuild each step),
the facts read just before each write (previous values, backup paths), and the outcome.
Each line is flushed and fsynced, so a run killed at any point leaves a readable journal;
a torn last line (SIGKILL mid-write) is ignored on read. Lines pass through `redact`.

A journal is data from disk, maybe edited or damaged: `records()` checks the whole file
(every line, every field the readers use, every step record rebuildable) before anyone acts
on it, so a rollback or resume never stops half-way on a malformed line.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fipswizard.errors import BadInput, FipsWizardError
from fipswizard.files import open_private
from fipswizard.recipe import brief
from fipswizard.secrets import redact

if TYPE_CHECKING:
    from fipswizard.recipe import Recipe

MAX_BYTES = 256 * 1024 * 1024
# step-end statuses of a begun step that changed nothing: a batch found it already held, or
# stopped before it (engine/run.py). Rollback leaves such a step alone.
UNCHANGED = ("held", "not-run")  # far above any real journal; refuses a runaway file


class _Bad(Exception):
    """One field of one line is wrong: (field path, what was found, what is allowed)."""

    def __init__(self, field: str, found: object, allowed: str) -> None:
        super().__init__(field)
        self.field, self.found, self.allowed = field, found, allowed


def _str(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise _Bad(name, value, "a string")


def _dict(value: object, name: str) -> None:
    if not isinstance(value, dict):
        raise _Bad(name, value, "a JSON object")


def _step(value: object, name: str) -> None:
    """A step record (Step.record()): rollback rebuilds the step from it."""
    from fipswizard.engine import plan  # noqa: F401  (registers every step kind; lazy: no cycle)
    from fipswizard.engine.steps import Risk, Step

    if not isinstance(value, dict):
        raise _Bad(name, value, "a step record (target, title, risk, params)")
    for key in ("target", "title"):
        _str(value.get(key), f"{name}.{key}")
    risks = [str(r) for r in Risk]
    if value.get("risk") not in risks:
        raise _Bad(f"{name}.risk", value.get("risk"), " | ".join(risks))
    params = value.get("params")
    _dict(params, f"{name}.params")
    assert isinstance(params, dict)
    if not isinstance(params.get("kind"), str) or params["kind"] not in Step.registry:
        raise _Bad(f"{name}.params.kind", params.get("kind"), "a known step kind")
    try:  # building what the step would send reads every parameter it needs
        Step.from_record(value["target"], value["title"], value["risk"], params).actions()
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, FipsWizardError) as err:
        detail = f"missing {err}" if isinstance(err, KeyError) else type(err).__name__
        raise _Bad(
            f"{name}.params", params, f"parameters a {params['kind']} step needs ({detail})"
        ) from None


# The known events and the fields each one must carry (what some reader of the journal
# uses). One table: an engineer who journals a new event adds it here.
_STEP_KEYS: dict[str, Callable[[object, str], None]] = {"target": _str, "step_id": _str}
_ROLLBACK_KEYS: dict[str, Callable[[object, str], None]] = {**_STEP_KEYS, "of_run": _str}
EVENTS: dict[str, dict[str, Callable[[object, str], None]]] = {
    "recipe": {"text": _str},
    "run-start": {},  # what it holds (targets, resumed steps) is for people reading it
    "run-end": {},
    "step-begin": {**_STEP_KEYS, "step": _step, "undo": _dict},
    "step-end": {**_STEP_KEYS, "status": _str},
    "step-skip": _STEP_KEYS,
    "step-interrupted": _STEP_KEYS,
    "step-declined": _STEP_KEYS,
    "target-skip": {"target": _str},
    "gate-approved": {},
    "gate-refused": {},
    "rollback-approved": {},  # its approved and declined keys are for people reading it
    "recover": _STEP_KEYS,
    "rollback-begin": _ROLLBACK_KEYS,
    "rollback-end": _ROLLBACK_KEYS,
    "rollback-failed": _ROLLBACK_KEYS,
}


def _check_record(record: object) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _Bad("(line)", record, "a JSON object")
    ts = record.get("ts")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        raise _Bad("ts", ts, "a number (seconds since the epoch)")
    _str(record.get("run"), "run")
    event = record.get("event")
    if not isinstance(event, str) or event not in EVENTS:  # a list is not even hashable
        raise _Bad("event", event, " | ".join(EVENTS))
    for key, check in EVENTS[event].items():
        check(record.get(key), key)
    return record


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
        fd = open_private(self.path, append=True, what="journal")
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read(self) -> bytes | None:
        """The file's bytes, None if there is no journal yet; never follows a symlink."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise BadInput(f"{self.path}: is a symbolic link; refusing to follow it") from None
            raise BadInput(f"{self.path}: cannot read the journal: {err.strerror}") from None
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise BadInput(f"{self.path}: is a directory, not a journal file")
            if not stat.S_ISREG(info.st_mode):
                raise BadInput(f"{self.path}: is not a regular file, not a journal file")
            if info.st_size > MAX_BYTES:
                raise BadInput(f"{self.path}: {info.st_size} bytes: too large for a journal")
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        except OSError as err:
            raise BadInput(f"{self.path}: cannot read the journal: {err.strerror}") from None
        finally:
            os.close(fd)

    def records(self) -> list[dict[str, Any]]:
        """Every record, each checked; raises BadInput naming path:line and the field."""
        data = self._read()
        if not data:
            return []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            at = data[: err.start].count(b"\n") + 1
            raise BadInput(f"{self.path}:{at}: not UTF-8 text: not a fipswizard journal") from None
        lines = text.split("\n")  # a complete file ends with "\n": its last item is ""
        out: list[dict[str, Any]] = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                if n == len(lines):
                    break  # torn last line from a killed run
                raise BadInput(
                    f"{self.path}:{n}: not a fipswizard journal line (not JSON: {brief(line)})"
                ) from None
            try:
                out.append(_check_record(record))
            except _Bad as bad:
                raise BadInput(
                    f"{self.path}:{n}: journal field '{bad.field}': found {brief(bad.found)}; "
                    f"expected {bad.allowed}"
                ) from None
        return out

    def check_recipe(self, recipe: Recipe, *, allow_other: bool) -> None:
        """Refuse a journal recorded for other targets than `recipe`'s (checks it whole)."""
        from fipswizard.recipe import parse_recipe

        texts = [r["text"] for r in self.records() if r["event"] == "recipe"]
        if not texts or allow_other:
            return
        recorded = parse_recipe(texts[-1], f"{self.path} (recorded recipe)")
        theirs = {rt.target.key.lower() for rt in recorded.targets}
        ours = {rt.target.key.lower() for rt in recipe.targets}
        if theirs != ours:
            raise BadInput(
                f"journal {self.path} was recorded for recipe {recorded.path} with targets "
                f"{brief(', '.join(sorted(theirs)), 200)}, not those of {recipe.path} "
                f"({brief(', '.join(sorted(ours)), 200)}); pass --journal-of-other-recipe to "
                "use it anyway"
            )

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
