"""`fipswizard demo` names itself in the run log: run_apply is called with command="demo"."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import fipswizard.session
from fipswizard.engine.report import Summary
from fipswizard.headless import demo


async def test_demo_runs_under_its_own_command_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def fake_env(workdir: Path | None) -> AsyncIterator[SimpleNamespace]:
        yield SimpleNamespace(
            endpoint="http://127.0.0.1:1",
            recipe_path=tmp_path / "r.toml",
            scenarios={},
            recipe=object(),
            opts=object(),
            journal_path=tmp_path / "j.jsonl",
            expected={},
        )

    async def fake_run_apply(*args: Any, command: str = "apply") -> Summary:
        seen["command"] = command
        return Summary()

    monkeypatch.setattr(demo, "demo_environment", fake_env)
    monkeypatch.setattr(fipswizard.session, "run_apply", fake_run_apply)
    rc = await demo.run_demo(argparse.Namespace(workdir=None))
    assert rc == 0 and seen["command"] == "demo"
