"""Helpers for driving the wizard with Textual's Pilot (offline, against the sandbox)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.pilot import Pilot

from screens.messages import EngineMsg


class MessageLog:
    """The `run_test(message_hook=...)` callback: each message once, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._seen: set[int] = set()

    def __call__(self, message: Message) -> None:
        if id(message) not in self._seen:  # Textual hands a screen's message over twice
            self._seen.add(id(message))
            self.messages.append(message)

    def of(self, *kinds: type[Message]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kinds)]

    def names(self, *kinds: type[Message]) -> list[str]:
        return [type(m).__name__ for m in self.of(*kinds)]

    def engine(self) -> list[EngineMsg]:
        return self.of(EngineMsg)


async def wait_for(
    pilot: Pilot[Any],
    predicate: Callable[[], object],
    timeout: float = 60.0,
    what: str = "condition",
) -> None:
    """Let the app run until `predicate()` holds (it reads state; it never drives the app)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            screen = type(pilot.app.screen).__name__
            raise AssertionError(f"timed out waiting for {what} (screen {screen})")
        await pilot.pause(0.05)


async def wait_screen(
    pilot: Pilot[Any],
    kind: type,
    timeout: float = 60.0,
    ready: Callable[[Any], object] = lambda _s: True,
) -> Any:
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.screen, kind) and ready(pilot.app.screen),
        timeout,
        f"screen {kind.__name__}",
    )
    await pilot.pause()
    return pilot.app.screen


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`python -m fipswizard ARGS` in a subprocess (the event loop keeps serving the sandbox),
    with the demo's token in its environment, as the TUI's replay hint prints it."""
    import os
    import sys

    from fipswizard.azure.credentials import TOKEN_ENV
    from fipswizard.demo_env import DEMO_TOKEN

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fipswizard",
        *args,
        env={**os.environ, TOKEN_ENV: DEMO_TOKEN, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def answer_questions(pilot: Pilot[Any], key: str, timeout: float = 120.0) -> list[Any]:
    """Answer every engine question (QuestionScreen) with `key` until the run screen ends."""
    from screens.dialogs import QuestionScreen
    from screens.run import RunScreen

    asked: list[Any] = []
    deadline = time.monotonic() + timeout
    while True:
        screen = pilot.app.screen
        if isinstance(screen, QuestionScreen) and screen not in asked:
            asked.append(screen)
            await pilot.pause()
            await pilot.press(key)
        elif isinstance(screen, RunScreen) and screen.ended:
            return asked
        if time.monotonic() > deadline:
            raise AssertionError(f"run did not end (screen {type(screen).__name__})")
        await pilot.pause(0.05)


async def open_recipe_with(pilot: Pilot[Any], vms: list[str], path: Any) -> Any:
    """Write the demo recipe narrowed to `vms`, open it with ^O, return it as re-parsed."""
    from dataclasses import replace

    from textual.widgets import Input

    from fipswizard.recipe import dump_recipe, load_recipe
    from screens.dialogs import PathDialog
    from screens.target import TargetScreen

    await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
    base = pilot.app.wizard.session.base
    narrowed = replace(base, targets=tuple(t for t in base.targets if t.target.vm in vms))
    path.write_text(dump_recipe(narrowed), encoding="utf-8")
    await pilot.press("ctrl+o")
    dialog = await wait_screen(pilot, PathDialog)
    dialog.query_one(Input).value = str(path)
    await pilot.press("enter")
    await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows and s.note)
    return load_recipe(path)


async def through_to_run(pilot: Pilot[Any], from_preflight: bool = False) -> Any:
    """From the target (or preflight) screen: on through plan and confirm, start the run."""
    from screens.confirm import ConfirmScreen
    from screens.plan_preview import PlanScreen
    from screens.preflight import PreflightScreen
    from screens.run import RunScreen

    phases = (PreflightScreen, PlanScreen, ConfirmScreen, RunScreen)
    for kind in phases[1:] if from_preflight else phases:
        await pilot.press("ctrl+n")
        screen = await wait_screen(pilot, kind)
    return screen
