"""The journal: append-only, redacted, tolerant of a torn last line, knows what is unfinished."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.journal import EVENTS, Journal
from fipswizard.errors import BadInput
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe
from fipswizard.secrets import Secret

# The parameters a real vm-flag step record carries (fipswizard.azure.arm_step.vm_params).
VM_FLAG = {
    "kind": "vm-flag",
    "endpoint": "https://management.azure.com",
    "api": "2025-04-01",
    "vm_path": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v",
}


SUB = "11111111-2222-3333-4444-555555555555"


def test_begin_end_and_unfinished(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.jsonl", "run1")
    rec = {"target": "t", "title": "x", "risk": "reversible", "params": VM_FLAG}
    j.append("step-begin", target="t", step_id="a", step=rec, undo={"previous": False})
    j.append("step-end", target="t", step_id="a", status="applied")
    j.append("step-begin", target="t", step_id="b", step=rec, undo={})
    begun = j.begun()
    assert [(b.step_id, b.finished) for b in begun] == [("a", True), ("b", False)]
    assert begun[0].undo == {"previous": False}
    assert j.unfinished() == {("t", "b")}


def test_torn_last_line_is_ignored_but_corruption_is_not(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = Journal(path, "r")
    j.append("run-start")
    with path.open("a") as f:
        f.write('{"ts": 1, "run": "r", "eve')  # SIGKILL mid-write
    assert len(j.records()) == 1
    path.write_text('garbage\n{"event": "run-start", "run": "r"}\n')
    with pytest.raises(BadInput, match=":1:"):
        j.records()


def test_secrets_are_redacted(tmp_path: Path) -> None:
    token = Secret("eyJ0eXAiOiJKV1QiLCJhbGciOi-token-value", "token")
    j = Journal(tmp_path / "j.jsonl", "r")
    j.append("note", detail=f"sent {token.reveal()}")
    text = (tmp_path / "j.jsonl").read_text()
    assert token.reveal() not in text and "***" in text
    assert (tmp_path / "j.jsonl").stat().st_mode & 0o777 == 0o600


def _run_journal(path: Path) -> Journal:
    j = Journal(path, "run1")
    rec = {"target": "t", "title": "x", "risk": "reversible", "params": VM_FLAG}
    j.append("recipe", text="version = 1\n")
    j.append("step-begin", target="t", step_id="a", step=rec, undo={"previous": False})
    j.append("step-end", target="t", step_id="a", status="applied", detail="done")
    return j


def test_a_kill_at_any_byte_never_makes_the_journal_unreadable(tmp_path: Path) -> None:
    """Each record is one write() of a whole line: a kill leaves a prefix of the last one."""
    whole = _run_journal(tmp_path / "whole.jsonl").path.read_bytes()
    last = whole.rstrip(b"\n").rfind(b"\n") + 1
    cut = tmp_path / "cut.jsonl"
    for end in range(last, len(whole) + 1):
        cut.write_bytes(whole[:end])
        records = Journal(cut).records()
        assert len(records) == (3 if end >= len(whole) - 1 else 2), end


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda r: r["step"].update(risk="catastrophic"), "'step.risk'"),
        (lambda r: r["step"]["params"].update(kind="format-disk"), "'step.params.kind'"),
        (lambda r: r["step"]["params"].pop("vm_path"), "missing 'vm_path'"),
        (lambda r: r["step"].pop("title"), "'step.title'"),
        (lambda r: r.update(undo=[1]), "'undo'"),
        (lambda r: r.update(step_id=7), "'step_id'"),
        (lambda r: r.update(step=None), "'step'"),
    ],
)
def test_step_records_checked_before_use(tmp_path: Path, edit: object, fragment: str) -> None:
    path = _run_journal(tmp_path / "j.jsonl").path
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    edit(record)  # type: ignore[operator]
    lines[1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadInput) as info:
        Journal(path).begun()
    assert f"{path}:2: journal field " in str(info.value) and fragment in str(info.value)


def test_huge_values_abbreviated(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps({"ts": 1, "run": "r", "event": "x" * 100_000}) + "\n")
    with pytest.raises(BadInput) as info:
        Journal(path).records()
    assert len(str(info.value)) < 600


def test_symlink_and_directory_refused(tmp_path: Path) -> None:
    real = _run_journal(tmp_path / "real.jsonl").path
    (tmp_path / "link.jsonl").symlink_to(real)
    with pytest.raises(BadInput, match="symbolic link"):
        Journal(tmp_path / "link.jsonl").records()
    with pytest.raises(BadInput, match="symbolic link"):
        Journal(tmp_path / "link.jsonl").append("run-end")
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(BadInput, match="is a directory"):
        Journal(tmp_path / "dir.jsonl").records()


def test_existing_0644_journal_tightened_on_append(tmp_path: Path) -> None:
    path = _run_journal(tmp_path / "j.jsonl").path
    path.chmod(0o644)
    Journal(path, "run2").append("run-end")
    assert path.stat().st_mode & 0o777 == 0o600 and len(Journal(path).records()) == 4


def _recipe(*vms: str) -> Recipe:
    return Recipe(targets=tuple(RecipeTarget(Target(SUB, "rg", v), "auto") for v in vms))


def test_check_recipe_refuses_a_journal_of_other_targets(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.jsonl", "r")
    j.check_recipe(_recipe("a"), allow_other=False)  # no journal yet: nothing to compare
    j.append("recipe", text=dump_recipe(_recipe("a", "b")))
    j.check_recipe(_recipe("b", "A"), allow_other=False)  # same set; Azure names ignore case
    with pytest.raises(BadInput) as info:
        j.check_recipe(_recipe("a"), allow_other=False)
    assert "--journal-of-other-recipe" in str(info.value) and f"{SUB}/rg/b" in str(info.value)
    j.check_recipe(_recipe("a"), allow_other=True)


def test_every_journalled_event_is_in_the_known_table() -> None:
    """Whoever journals a new event adds it to journal.EVENTS, or no journal could be read."""
    root = Path(__file__).parent.parent
    found: set[str] = set()
    for source in [*root.glob("fipswizard/**/*.py"), *root.glob("screens/**/*.py")]:
        text = source.read_text()
        found |= set(re.findall(r"journal\.append\(\s*\"([a-z-]+)\"", text))
    assert found and found <= set(EVENTS), found - set(EVENTS)
