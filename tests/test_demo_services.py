"""Issue 11: the demo hands its credential and secrets to the run (session.Services), never
through os.environ: the environment is the same before, during and after `fipswizard demo`."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

import pytest

import fipswizard.demo_env as demo_env
import fipswizard.headless.commands as commands
from fipswizard.engine.events import Event
from fipswizard.headless.demo import run_demo
from fipswizard.recipe import Recipe

# One plain VM and the AlmaLinux one, whose TuxCare step needs the demo's licence key.
VMS = ("ubuntu2204-web", "alma92-ledger")


async def test_demo_leaves_the_environment_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("FIPSWIZARD_ACCESS_TOKEN", "FIPSWIZARD_TUXCARE_KEY"):
        monkeypatch.delenv(name, raising=False)
    whole = demo_env.demo_recipe

    def narrowed(sandbox: object, path: Path) -> Recipe:
        recipe = whole(sandbox, path)
        return replace(recipe, targets=tuple(t for t in recipe.targets if t.target.vm in VMS))

    seen: list[tuple[str | None, str | None]] = []
    progress = commands.print_progress

    def observe(event: Event) -> None:
        env = os.environ
        seen.append((env.get("FIPSWIZARD_ACCESS_TOKEN"), env.get("FIPSWIZARD_TUXCARE_KEY")))
        progress(event)

    monkeypatch.setattr(demo_env, "demo_recipe", narrowed)
    monkeypatch.setattr(commands, "print_progress", observe)
    before = dict(os.environ)
    code = await run_demo(argparse.Namespace(workdir=str(tmp_path)))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all 2 VMs ended as expected" in out
    assert seen and set(seen) == {(None, None)}  # nothing was put in the environment
    assert dict(os.environ) == before
