"""The journal: append-only, redacted, tolerant of a torn last line, knows what is unfinished."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.errors import BadInput
from fipswizard.journal import Journal
from fipswizard.secrets import Secret

# The parameters a real vm-flag step record carries (fipswizard.azure.arm_step.vm_params).
VM_FLAG = {
    "kind": "vm-flag",
    "endpoint": "https://management.azure.com",
    "api": "2025-04-01",
    "vm_path": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v",
}


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
