"""Issue 10.2/10.4 in the TUI: the summary offers Evidence; it writes the run's bundle next to
the journal (read-only against the demo's simulated Azure), shows progress, then the
Evidence view, and the summary says where the bundle was written."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

from textual.app import App
from textual.widgets import Button, Input, Static
from tui_helpers import answer_questions, open_recipe_with, through_to_run, wait_screen

from fipswizard.engine.journal import Journal
from fipswizard.engine.report import Summary
from fipswizard.errors import BadInput
from fipswizard.session import evidence_dir
from screens.app import create_app
from screens.dialogs import PathDialog
from screens.evidence import EvidenceScreen
from screens.summary import SummaryScreen
from screens.validation import ValidationScreen


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_evidence_from_the_summary_of_a_demo_run(tmp_path: Path) -> None:
    app = create_app(demo=True, workdir=tmp_path / "demo")
    recipe_file = tmp_path / "two.toml"
    journal = Journal.default_for(recipe_file)
    out = evidence_dir(journal)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_recipe_with(pilot, ["ubuntu2204-web", "flatcar-edge"], recipe_file)
        await through_to_run(pilot)
        await answer_questions(pilot, "y")
        await pilot.press("ctrl+n")
        await wait_screen(pilot, ValidationScreen)
        await pilot.press("ctrl+n")
        summary = await wait_screen(pilot, SummaryScreen)
        assert f"{out}" in text_of(summary, "#summary-evidence")
        assert "not written yet" in text_of(summary, "#summary-evidence")
        assert not out.exists()

        await pilot.click("#evidence")
        await pilot.pause()
        # progress: the button is busy until the bundle is written
        assert summary.query_one("#evidence", Button).disabled or isinstance(
            app.screen, EvidenceScreen
        )
        view = await wait_screen(pilot, EvidenceScreen, timeout=120)
        assert view.bundle == out
        assert {vm["name"] for vm in view.evidence["vms"]} == {"ubuntu2204-web", "flatcar-edge"}
        flatcar = next(vm for vm in view.evidence["vms"] if vm["name"] == "flatcar-edge")
        assert "FIPS mode only" in flatcar["claim_label"]
        # the bundle is the one `fipswizard evidence JOURNAL -o DIR` writes: private, hashed
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        sums = (out / "SHA256SUMS").read_text().splitlines()
        assert sums and any(line.endswith("  evidence.json") for line in sums)
        for line in sums:
            digest, name = line.split("  ", 1)
            assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name

        await pilot.press("escape")
        summary = await wait_screen(pilot, SummaryScreen)
        assert "Evidence bundle written to " + str(out) in text_of(summary, "#summary-evidence")
        assert not summary.query_one("#evidence", Button).disabled

        # the summary shown again (after saving the recipe) still says where the bundle is
        await pilot.press("ctrl+s")
        dialog = await wait_screen(pilot, PathDialog)
        dialog.query_one(Input).value = str(tmp_path / "saved.toml")
        await pilot.press("enter")
        again = await wait_screen(pilot, SummaryScreen, ready=lambda s: s.note)
        assert again is not summary and again.bundle == out
        assert "Evidence bundle written to " in text_of(again, "#summary-evidence")


class _Host(App[None]):
    def __init__(self, screen: SummaryScreen) -> None:
        super().__init__()
        self.summary_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.summary_screen)


async def test_evidence_that_fails_says_why_and_stays_on_the_summary(tmp_path: Path) -> None:
    async def refuse(out: Path) -> dict[str, Any]:
        raise BadInput(f"{out}: the folder is not empty and holds no evidence bundle")

    journal = tmp_path / "run.journal.jsonl"
    screen = SummaryScreen(
        Summary(), journal=journal, save_default=tmp_path / "r.toml", evidence=refuse
    )
    host = _Host(screen)
    async with host.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.click("#evidence")
        for _ in range(50):
            await pilot.pause(0.02)
            if "not written" in text_of(screen, "#summary-evidence"):
                break
        note = text_of(screen, "#summary-evidence")
        assert "Evidence not written" in note and "holds no evidence bundle" in note
        assert host.screen is screen and not screen.query_one("#evidence", Button).disabled


async def test_no_evidence_button_after_a_rollback(tmp_path: Path) -> None:
    async def never(out: Path) -> dict[str, Any]:
        raise AssertionError("not offered after a rollback")

    screen = SummaryScreen(
        Summary(),
        journal=tmp_path / "j.jsonl",
        save_default=tmp_path / "r.toml",
        rollback=True,
        evidence=never,
    )
    async with _Host(screen).run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        assert not screen.query("#evidence") and not screen.query("#summary-evidence")


async def test_ctrl_e_writes_the_evidence_like_the_button(tmp_path: Path) -> None:
    """The Evidence action has a key, listed in the command table (footer, palette, help)."""
    from screens.command_table import commands_for

    assert any(c.key == "ctrl+e" and c.action == "evidence" for c in commands_for("summary"))
    asked: list[Path] = []

    async def refuse(out: Path) -> dict[str, Any]:
        asked.append(out)
        raise BadInput("refused on purpose")

    screen = SummaryScreen(
        Summary(), journal=tmp_path / "j.jsonl", save_default=tmp_path / "r.toml", evidence=refuse
    )
    async with _Host(screen).run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+e")
        for _ in range(50):
            await pilot.pause(0.02)
            if asked:
                break
        assert asked == [evidence_dir(tmp_path / "j.jsonl")]
