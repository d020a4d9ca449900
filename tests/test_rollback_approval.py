"""Issue 11: rollback asks once, typed, before anything is sent; the guest reboot is an item
"if needed", and declining it never asks again mid-rollback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.approvals import ApprovalItem
from fipswizard.engine.events import Event, StepStarted
from fipswizard.engine.journal import Journal
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.errors import ConfirmationNeeded
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply, run_rollback
from tests.inproc import FAST

VM = "ubuntu2204-web"


class OnlyApproves:
    """A prompter with nothing but `approve`: any other question would be an AttributeError."""

    def __init__(self, decline_kinds: frozenset[str] = frozenset()) -> None:
        self.decline_kinds = decline_kinds
        self.asked: list[list[ApprovalItem]] = []
        self.flag_when_asked: list[bool] = []
        self.sandbox: SandboxAzure | None = None

    async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
        self.asked.append(list(items))
        if self.sandbox is not None:  # nothing is sent before the answer
            self.flag_when_asked.append(self.sandbox.estate.vms[VM].fips_flag)
        return {i.key for i in items if i.kind not in self.decline_kinds}


async def applied(tmp_path: Path) -> tuple[SandboxAzure, Options, Path]:
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    opts = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    vm = sandbox.estate.vms[VM]
    target = Target(vm.subscription, vm.resource_group, vm.name)
    recipe = Recipe(targets=(RecipeTarget(target, "auto"),))
    journal = tmp_path / "j"
    done = await run_apply(recipe, opts, HeadlessPrompter(True), journal, lambda e: None)
    assert done.ok, done.to_text()
    assert vm.fips_flag and vm.guest.fips_enabled
    return sandbox, opts, journal


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "rollback-approval-token")


async def test_rollback_asks_once_with_typed_items_and_a_conditional_reboot(
    tmp_path: Path,
) -> None:
    sandbox, opts, journal = await applied(tmp_path)
    listed: list[str] = []
    await run_rollback(journal, opts, OnlyApproves(), print, preview=listed.extend)
    prompter = OnlyApproves()
    prompter.sandbox = sandbox
    back = await run_rollback(journal, opts, prompter, lambda e: None)

    assert len(prompter.asked) == 1 and prompter.flag_when_asked == [True]
    items = prompter.asked[0]
    # one item per line of `rollback --plan`, in its order and with its words
    lines = [line.split(". ", 1)[1] for line in listed if line.startswith("  ")]
    assert [i.title for i in items] == lines and len(items) > 3
    reboots = [i for i in items if i.kind == "guest-reboot"]
    assert len(reboots) == 1 and reboots[0].conditional and "Downtime" in reboots[0].cost
    assert all(not i.conditional for i in items if i.kind != "guest-reboot")
    assert "if needed" in reboots[0].line()
    assert str(back.targets[reboots[0].target].outcome) == "rolled back", back.to_text()
    gate = [r for r in Journal(journal).records() if r["event"] == "rollback-approved"]
    assert len(gate) == 1 and len(gate[0]["approved"]) == len(items) and gate[0]["declined"] == []


async def test_declined_reboot_leaves_the_undos_done_and_asks_nothing_more(
    tmp_path: Path,
) -> None:
    sandbox, opts, journal = await applied(tmp_path)
    prompter = OnlyApproves(decline_kinds=frozenset({"guest-reboot"}))
    events: list[Event] = []
    back = await run_rollback(journal, opts, prompter, events.append)

    assert len(prompter.asked) == 1
    started = {e.step_id for e in events if isinstance(e, StepStarted)}
    assert "ubuntu.fips-updates" in started  # the guest undo ran
    row = next(iter(back.targets.values()))
    assert str(row.outcome) == "partly rolled back"
    assert "reboot declined" in row.detail and "next reboot" in row.detail
    assert sandbox.estate.vms[VM].fips_flag  # kept on: the guest may still be in FIPS mode
    gate = [r for r in Journal(journal).records() if r["event"] == "rollback-approved"]
    assert [d.split(" ")[1] for d in gate[0]["declined"]] == ["ubuntu.reboot"]


async def test_headless_rollback_without_yes_sends_nothing_and_lists_the_items(
    tmp_path: Path,
) -> None:
    sandbox, opts, journal = await applied(tmp_path)
    refuse = HeadlessPrompter(
        False, command="fipswizard rollback j --yes", review="fipswizard rollback j --plan"
    )
    with pytest.raises(ConfirmationNeeded) as err:
        await run_rollback(journal, opts, refuse, lambda e: None)
    text = str(err.value)
    assert "fipswizard rollback j --yes" in text and "fipswizard rollback j --plan" in text
    assert "[guest-reboot, if needed]" in text
    assert sandbox.estate.vms[VM].fips_flag
    assert not [r for r in Journal(journal).records() if r["event"].startswith("rollback")]


async def test_a_terminal_answers_every_item_with_one_y_or_n(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fipswizard.headless.commands import _TerminalPrompter

    items = [
        ApprovalItem("s/rg/vm", "os.fips", "guest-script", "undo 'FIPS'", "puts back", False),
        ApprovalItem("s/rg/vm", "os.reboot", "guest-reboot", "reboot", "Downtime", True),
    ]
    answers = iter(["y", "n"])
    monkeypatch.setattr("builtins.input", lambda _prompt: next(answers))
    yes = _TerminalPrompter()
    assert await yes.approve(items) == {i.key for i in items}
    listing = capsys.readouterr().err
    assert "1. undo 'FIPS'" in listing and "2. reboot [guest-reboot, if needed]" in listing
    no = _TerminalPrompter()
    assert await no.approve(items) == set() and no.asked and not no.approved
    assert "nothing changed" in capsys.readouterr().err
