"""Errors reach the operator as a dialog with the ARM code, the message and what to do;
never a traceback on screen (details go to the log file). The wizard stays usable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import Input, Static
from tui_helpers import wait_screen

from fipswizard.logs import setup_logging
from fipswizard.session import Options
from screens.app import create_app
from screens.dialogs import ErrorDialog, PathDialog
from screens.target import TargetScreen


def dialog_text(dialog: ErrorDialog) -> str:
    return "\n".join(str(w.render()) for w in dialog.query(Static))


def refusing(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        403,
        headers={"x-ms-request-id": "req-1"},
        json={
            "error": {
                "code": "AuthorizationFailed",
                "message": "The client 'op@contoso' does not have authorization to perform action "
                "'Microsoft.Resources/subscriptions/read'.",
            }
        },
    )


async def test_arm_refusal_shows_code_message_and_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "error-test-token")
    app = create_app(
        demo=False, opts=Options(transport=httpx.MockTransport(refusing)), workdir=tmp_path
    )
    async with app.run_test(size=(100, 32)) as pilot:
        dialog = await wait_screen(pilot, ErrorDialog)
        text = dialog_text(dialog)
        assert dialog.info.code == "AuthorizationFailed"
        assert "does not have authorization" in text and "AuthorizationFailed" in text
        assert "Virtual Machine Contributor" in text  # the suggested action
        assert "Traceback" not in text
        await pilot.press("escape")
        await wait_screen(pilot, TargetScreen)


async def test_bad_recipe_and_missing_journal_are_dialogs_then_back_to_target(
    tmp_path: Path, sandbox_opts: Any
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\ncloud = "AzureCloud"\nfix = "sometimes"\n', encoding="utf-8")
    app = create_app(demo=False, opts=sandbox_opts, workdir=tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        for key, path, expect in (
            ("ctrl+o", bad, "bad.toml:3: key 'fix'"),
            ("ctrl+r", tmp_path / "none.jsonl", "no such journal"),
        ):
            await pilot.press(key)
            dialog = await wait_screen(pilot, PathDialog)
            dialog.query_one(Input).value = str(path)
            await pilot.press("enter")
            error = await wait_screen(pilot, ErrorDialog)
            assert expect in error.info.message, error.info
            assert "Traceback" not in dialog_text(error)
            await pilot.press("enter")
            await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)


async def test_an_internal_error_points_to_the_log_which_has_the_details(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "error-test-token")
    log = setup_logging(False, tmp_path / "tui.log")

    def broken(request: httpx.Request) -> httpx.Response:
        raise ZeroDivisionError("a bug in the transport")

    app = create_app(
        demo=False,
        opts=Options(transport=httpx.MockTransport(broken)),
        workdir=tmp_path,
        log_path=str(log),
    )
    async with app.run_test(size=(100, 32)) as pilot:
        dialog = await wait_screen(pilot, ErrorDialog)
        assert dialog.info.title == "Internal error"
        assert str(log) in dialog.info.advice
        assert "Traceback" not in dialog_text(dialog)
    details = log.read_text(encoding="utf-8")
    assert "Traceback" in details and "ZeroDivisionError: a bug in the transport" in details
