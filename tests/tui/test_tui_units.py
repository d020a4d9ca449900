"""The pieces under the screens: one command declaration, findings, diagnosis parsing,
error descriptions, the inventory listing, the TuiPrompter seam, theme and palette."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.command import CommandList, CommandPalette
from tui_helpers import wait_for, wait_screen

from fipswizard.azure.arm_errors import ArmError
from fipswizard.azure.clouds import resolve_cloud
from fipswizard.azure.inventory import list_vms, vm_row
from fipswizard.context import Settings, Target
from fipswizard.engine.findings import vm_rows
from fipswizard.engine.plan import build_plan
from fipswizard.engine.plan_state import StepState
from fipswizard.engine.prompter import StepQuestion
from fipswizard.errors import StepError
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.session import Options, make_arm
from screens import base, command_table
from screens.app import create_app
from screens.command_table import SCREENS, WizardCommands, bindings_for, help_markup
from screens.confirm import ConfirmScreen
from screens.dialogs import HelpScreen, QuestionScreen
from screens.error_info import describe_error
from screens.plan_preview import PlanScreen
from screens.preflight import PreflightScreen
from screens.rollback import RollbackScreen
from screens.run import RunScreen
from screens.run_record import RunRecord
from screens.summary import SummaryScreen
from screens.target import TargetScreen
from screens.tui_prompter import TuiPrompter
from screens.validation import ValidationScreen

SUB = "11111111-2222-3333-4444-555555555555"
PHASE_SCREENS = [
    TargetScreen,
    PreflightScreen,
    PlanScreen,
    ConfirmScreen,
    RunScreen,
    ValidationScreen,
    SummaryScreen,
    RollbackScreen,
]


@pytest.mark.parametrize("screen", PHASE_SCREENS, ids=lambda s: s.__name__)
def test_bindings_help_and_palette_come_from_one_declaration(screen: Any) -> None:
    declared = SCREENS[screen.COMMANDS_ID]
    assert [(b.key, b.action, b.description) for b in screen.BINDINGS] == [
        (c.key, c.action, c.description) for c in declared
    ]
    text = help_markup(screen.COMMANDS_ID)
    for c in command_table.commands_for(screen.COMMANDS_ID):
        assert c.description in text and c.help.split("`")[0] in text
        # every screen action the table names exists on the screen class
        if not c.action.startswith("app."):
            assert hasattr(screen, "action_" + c.action.split("(")[0]), c.action


async def test_palette_offers_the_current_screens_commands() -> None:
    provider = WizardCommands(TargetScreen(Options()))
    found = [hit.text async for hit in provider.discover()]
    assert found == [c.description for c in command_table.commands_for("target")]
    hits = [hit.help async for hit in provider.search("resume")]
    assert hits == [c.help for c in SCREENS["target"] if c.description == "Resume"]


async def test_palette_f1_and_theme_in_the_running_app(tmp_path: Path, sandbox_opts: Any) -> None:
    app = create_app(demo=False, opts=sandbox_opts, workdir=tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        target = await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        assert target.themed("x", "text-muted").style.dim  # "auto 60%" is no Rich colour
        assert target.themed("x", "error").style.color is not None
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("ctrl+p")
        palette = await wait_screen(pilot, CommandPalette)
        await pilot.press(*"dark/light")
        options = palette.query_one(CommandList)
        await wait_for(pilot, lambda: options.option_count == 1, what="one palette hit")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.theme == "textual-dark", what="theme via palette")
        await pilot.press("f1")
        help_screen = await wait_screen(pilot, HelpScreen)
        assert "Choose the VMs" in help_screen.markup and "Open recipe" in help_screen.markup
        assert "Focused:" in help_screen.markup  # help for the focused field
        await pilot.press("escape")
        await wait_screen(pilot, TargetScreen)


def _plan(facts: dict[str, dict[str, Any]]) -> Any:
    targets = tuple(RecipeTarget(Target(SUB, "rg", name), "none") for name in facts)
    recipe = Recipe(targets=targets)
    keyed = {f"{SUB}/rg/{name}": value for name, value in facts.items()}
    return build_plan(recipe, keyed, endpoint="https://management.azure.com", settings=Settings())


def test_findings_name_refusals_and_warnings_with_reasons() -> None:
    ready = {
        "location": "uksouth",
        "flag": True,
        "agent_ready": True,
        "agent_status": "Ready",
        "agent_version": "2.15.0.1",
        "power_state": "running",
        "os_name": "ubuntu 22.04",
    }
    plan = _plan(
        {
            "good": ready,
            "old-agent": {**ready, "agent_version": "2.12.0.4", "location": "nowhere"},
            "broken": {**ready, "agent_ready": False, "agent_status": "Not Ready"},
            "gone": {"error": "ARM 404 ResourceNotFound: no such VM"},
        }
    )
    key = f"subscription:{SUB}"
    # The feature's state comes from the check's facts, not from its line of text.
    line = StepState("will run: feature state Unregistered", False, {"previous": "NotRegistered"})
    states: dict[tuple[str, str], str] = {(key, "feature"): line}
    rows = {r.vm: r for r in vm_rows(plan, states)}
    assert rows["good"].verdict == "ready" and rows["good"].flag == "on"
    assert rows["good"].feature == "NotRegistered"
    assert rows["old-agent"].verdict == "warnings"
    assert any("older than 2.14.0.1" in f.text for f in rows["old-agent"].findings)
    assert any("nowhere" in f.text and f.level == "warning" for f in rows["old-agent"].findings)
    assert rows["broken"].verdict == "refused"
    assert rows["gone"].verdict == "refused" and "ResourceNotFound" in rows["gone"].findings[0].text


def test_target_choice_keeps_the_recipes_other_choices() -> None:
    from fipswizard.recipe import parse_recipe
    from screens.target_model import TargetChoice, filter_rows

    base = parse_recipe(
        f"""version = 1
fix = "keyvault"
concurrency = 3
validate = false
[keyvault]
vault_id = "/subscriptions/{SUB}/resourceGroups/kv/providers/Microsoft.KeyVault/vaults/v"
certificate_url = "https://v.vault.azure.net/secrets/c/1"
[[target]]
subscription = "{SUB}"
resource_group = "rg"
vm = "vm1"
[[target]]
subscription = "{SUB}"
resource_group = "rg"
vm = "vm2"
guest = "none"
""",
        "base.toml",
    )
    choice = TargetChoice(base)
    assert choice.is_chosen(SUB, "RG", "VM1")  # Azure names are case-insensitive
    choice.set(SUB, "rg", "vm1", False, "AzureCloud")
    choice.set(SUB, "other", "vm9", True, "AzureCloud")
    recipe = choice.recipe("AzureCloud", "keyvault")
    assert [(t.target.resource_group, t.target.vm, t.guest) for t in recipe.targets] == [
        ("rg", "vm2", "none"),
        ("other", "vm9", "auto"),
    ]
    assert (recipe.keyvault, recipe.concurrency, recipe.validate, recipe.path) == (
        base.keyvault,
        3,
        False,
        "base.toml",
    )
    assert "2 VM(s) chosen in 2 resource group(s)" in choice.describe()
    rows = [
        {"name": "web1", "location": "uksouth", "image": "ubuntu 22.04"},
        {"name": "db1", "location": "westus2", "image": "RHEL 9_4"},
    ]
    assert [r["name"] for r in filter_rows(rows, "rhel WEST")] == ["db1"]
    assert filter_rows(rows, "") == rows


def test_a_diagnosis_reaches_the_record_as_typed_fields() -> None:
    from fipswizard.engine.events import Diagnosed

    found = Diagnosed(
        "t",
        "validate-customscript",
        "old-certificate-package",
        "fipswizard-validate failed: old package",
        "deallocate + start: downtime",
        "Fix: deallocate and start",
        "fix-reallocate",
    )
    record = RunRecord()
    record.add(found)
    assert record.diagnosis("t") == found and record.diagnosis("other") is None
    assert record.targets["t"].diagnoses == [found]


def test_long_waits_give_a_progress_fraction_from_the_event_only() -> None:
    from fipswizard.engine.events import StepOutput

    record = RunRecord()
    line = record.add(StepOutput("t", "agent-status", "waiting for the agent", fraction=0.25))
    assert line is not None and line.wait_fraction == 0.25
    # The text is never parsed: "(Ns of Ms)" without a fraction is just a line.
    record.add(StepOutput("t", "feature", "feature Registering (30s; times out at 120s)"))
    assert record.target("t").wait_fraction is None
    record.add(StepOutput("t", "feature", "re-registering the provider", fraction=0.9))
    assert record.target("t").wait_fraction == 0.9
    record.add(StepOutput("t", "feature", "done waiting"))
    assert record.target("t").wait_fraction is None


def test_errors_become_code_message_and_advice_never_a_traceback() -> None:
    arm = ArmError(403, "AuthorizationFailed", "The client has no authorization.")
    info = describe_error(arm)
    assert info.code == "AuthorizationFailed"
    assert "no authorization" in info.message and "Virtual Machine Contributor" in info.advice
    step = describe_error(StepError("the VM kept changing", "find what else modifies it"))
    assert (step.message, step.advice) == ("the VM kept changing", "find what else modifies it")
    bug = describe_error(ZeroDivisionError("division by zero"), "/tmp/x.log")
    assert bug.title == "Internal error" and "Traceback" not in bug.message
    assert "/tmp/x.log" in bug.advice


def _vm(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "location": "westus2",
        "properties": {
            "storageProfile": {"imageReference": {"offer": "RHEL", "sku": "9_4"}},
            "additionalCapabilities": {"enableFips1403Encryption": name == "b"},
        },
    }


async def test_list_vms_follows_next_link_and_refuses_other_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "unit-token")
    seen: list[str] = []
    foreign = {"value": False}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if "page2" in str(request.url):
            return httpx.Response(200, json={"value": [_vm("c")]})
        host = "https://evil.example" if foreign["value"] else "https://management.azure.com"
        link = f"{host}{request.url.path}?api-version=2025-04-01&%24skiptoken=page2"
        return httpx.Response(200, json={"value": [_vm("a"), _vm("b")], "nextLink": link})

    opts = Options(transport=httpx.MockTransport(answer))
    async with make_arm(resolve_cloud("AzureCloud"), "corr", opts) as arm:
        vms = await list_vms(arm, SUB, "rg", "2025-04-01")
        assert [v["name"] for v in vms] == ["a", "b", "c"]
        assert [vm_row(v)["flag"] for v in vms] == ["off", "on", "off"]
        assert "%24skiptoken=page2" in seen[1] or "$skiptoken=page2" in seen[1]
        foreign["value"] = True
        with pytest.raises(ArmError, match="not the ARM endpoint"):
            await list_vms(arm, SUB, "rg", "2025-04-01")


async def test_prompter_asks_one_question_at_a_time_and_skips_approved_ones(tmp_path: Path) -> None:
    app = create_app(demo=False, opts=Options(), workdir=tmp_path, autostart=False)
    record = RunRecord()
    from fipswizard.engine.approvals import ApprovalItem

    shown = ApprovalItem("s/rg/vm0", "reboot", "guest-reboot", "Reboot", "downtime", False)
    prompter = TuiPrompter(app, record, gate=frozenset({shown.key}), known=frozenset({shown.key}))
    answers: list[bool] = []

    def ask(vm: str, step_id: str, text: str) -> StepQuestion:
        return StepQuestion(f"s/rg/{vm}", step_id, step_id, "disruptive", text)

    async def engine_side() -> None:
        assert await prompter.approve([shown]) == {shown.key}  # approved on screen: no modal
        answers.extend(
            await asyncio.gather(
                # Worded like the fix: questions are grouped by step id, not by their text.
                prompter.ask_step(ask("vm1", "reboot", "Deallocate and start s/rg/vm1: reboot")),
                *(
                    prompter.ask_step(
                        ask(vm, "fix-reallocate", f"Deallocate and start s/rg/{vm}: downtime")
                    )
                    for vm in ("vm1", "vm2", "vm3")
                ),
            )
        )
        # "accept for all" on the fix answers a VM that asks it later without a dialog
        answers.append(await prompter.ask_step(ask("vm4", "fix-reallocate", "again")))

    async with app.run_test() as pilot:
        worker = app.run_worker(engine_side(), exit_on_error=False)
        first = await wait_screen(pilot, QuestionScreen)
        assert sum(isinstance(s, QuestionScreen) for s in app.screen_stack) == 1
        assert first.targets == ["s/rg/vm1"]
        await pilot.press("n")  # decline the reboot
        second = await wait_screen(pilot, QuestionScreen, ready=lambda s: s is not first)
        assert sum(isinstance(s, QuestionScreen) for s in app.screen_stack) == 1
        # the fix asked on three VMs while the reboot was open: one question, three VMs
        assert second.targets == ["s/rg/vm1", "s/rg/vm2", "s/rg/vm3"]
        await pilot.press("a")  # accept for all
        await worker.wait()
    assert answers == [False, True, True, True, True]
    assert [(a.target, a.accepted, a.how) for a in record.answers] == [
        ("s/rg/vm0", True, "plan"),
        ("s/rg/vm1", False, "asked"),
        ("s/rg/vm1", True, "asked"),
        ("s/rg/vm2", True, "asked"),
        ("s/rg/vm3", True, "asked"),
        ("s/rg/vm4", True, "all"),
    ]
    assert len(record.asked()) == 5


async def test_the_same_step_on_many_vms_is_one_question_with_a_per_vm_choice(
    tmp_path: Path,
) -> None:
    """Issue 11: with "ask again before each disruptive step" on, the reboot asked on three
    VMs is asked once with the VMs listed (ticked); unticking one leaves it out."""
    from textual.widgets import SelectionList, Static

    app = create_app(demo=False, opts=Options(), workdir=tmp_path, autostart=False)
    record = RunRecord()
    prompter = TuiPrompter(app, record, ask_each=True)
    answers: list[bool] = []

    async def engine_side() -> None:
        answers.extend(
            await asyncio.gather(
                *(
                    prompter.ask_step(
                        StepQuestion(f"s/rg/{vm}", "reboot", "Reboot", "disruptive", f"Reboot {vm}")
                    )
                    for vm in ("web1", "web2", "web3")
                )
            )
        )

    async with app.run_test(size=(100, 32)) as pilot:
        worker = app.run_worker(engine_side(), exit_on_error=False)
        screen = await wait_screen(pilot, QuestionScreen, ready=lambda s: len(s.targets) == 3)
        await pilot.pause()
        vms = screen.query_one("#question-vms", SelectionList)
        assert vms.display and sorted(vms.selected) == ["s/rg/web1", "s/rg/web2", "s/rg/web3"]
        assert "3 ask the same" in str(screen.query_one("#question-vm", Static).render())
        vms.focus()
        vms.highlighted = 1
        await pilot.press("space")  # untick web2
        assert sorted(vms.selected) == ["s/rg/web1", "s/rg/web3"]
        await pilot.press("y")
        await worker.wait()
        assert sum(isinstance(s, QuestionScreen) for s in app.screen_stack) == 0
    assert answers == [True, False, True]
    assert [(a.target, a.accepted) for a in record.answers] == [
        ("s/rg/web1", True),
        ("s/rg/web2", False),
        ("s/rg/web3", True),
    ]


def test_the_cli_import_never_pulls_in_textual_or_screens() -> None:
    code = (
        "import sys, fipswizard.headless.cli, fipswizard.headless.commands; "
        "print(json.dumps([m for m in sys.modules if m.startswith(('textual', 'screens'))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    ).stdout
    assert json.loads(out) == []


def test_phase_bar_marks_the_current_phase_with_theme_variables_only() -> None:
    text = base.phase_markup("plan")
    assert "[b $accent]3 Plan[/]" in text and "#" not in text
    styles = (Path(base.__file__).parent / "app.tcss").read_text()
    import re

    assert not re.search(r"#[0-9a-fA-F]{3,6}\b|\brgb\(|\b(red|green|blue|white|black)\b", styles)
    assert bindings_for("target")[0].priority  # works while the filter field has the focus


async def test_gate_uses_the_confirm_screen_and_asks_once_for_what_it_could_not_know(
    tmp_path: Path,
) -> None:
    from fipswizard.engine.approvals import ApprovalItem
    from screens.approval_dialog import ApprovalScreen
    from screens.approval_list import ApprovalList

    def item(vm: str, step: str, conditional: bool = False) -> ApprovalItem:
        return ApprovalItem(
            f"s/rg/{vm}", step, "guest-reboot", f"reboot {vm}", "downtime", conditional
        )

    known = [item("vm1", "boot"), item("vm1", "fix", True), item("vm2", "boot")]
    extra = [item("vm3", "boot"), item("vm4", "boot")]
    app = create_app(demo=False, opts=Options(), workdir=tmp_path, autostart=False)
    record = RunRecord()
    prompter = TuiPrompter(
        app,
        record,
        gate=frozenset({known[0].key, known[2].key}),
        known=frozenset(i.key for i in known),
    )
    result: list[set[tuple[str, str]]] = []

    async def engine_side() -> None:
        result.append(await prompter.approve([*known, *extra]))

    async with app.run_test() as pilot:
        worker = app.run_worker(engine_side(), exit_on_error=False)
        modal = await wait_screen(pilot, ApprovalScreen)
        listing = modal.query_one(ApprovalList)
        assert [i.key for i in listing.items] == [i.key for i in extra]  # only the unknown
        assert listing.state_lines()[0] == "[x] VM vm3: all 1 item(s)"
        await pilot.press("space")  # decline vm3 (its header line has the focus)
        assert listing.state_lines()[0].startswith("[ ] VM vm3")
        await pilot.click("#chosen")
        await worker.wait()
    assert result == [{known[0].key, known[2].key, extra[1].key}]
    assert record.declined == {"s/rg/vm1": {"fix"}, "s/rg/vm3": {"boot"}}
    assert [(a.target, a.accepted, a.how) for a in record.answers] == [
        ("s/rg/vm1", True, "plan"),
        ("s/rg/vm1", False, "plan"),
        ("s/rg/vm2", True, "plan"),
        ("s/rg/vm3", False, "gate"),
        ("s/rg/vm4", True, "gate"),
    ]
