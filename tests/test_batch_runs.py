"""Batched guest work against the simulated Azure (issue 9): a batch cut short, or a run
killed while its batch runs, still ends compliant, and no finished step runs again; the
journal records every batched step before its script is sent; rollback leaves alone what a
batch did not change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from fipswizard.context import Target
from fipswizard.engine.journal import Journal
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.rollback import pending_undos
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate, guest_model
from fipswizard.session import Options, run_apply
from tests.inproc import FAST, Killed, KillWhen

VM = "rhel95-db"  # fips-mode and the agent-2.7.0.6 workaround both change: a batch of two
ENDPOINT = "https://management.azure.com"
SUB = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "token-for-batches")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every script a simulated guest ran, batch parts included, in order."""
    ran: list[str] = []
    real = guest_model.SimGuest.run_script

    def recording(self: guest_model.SimGuest, script: str, params: Mapping[str, str]):  # type: ignore[no-untyped-def]
        ran.append(guest_model.script_name(script) or "?")
        return real(self, script, params)

    monkeypatch.setattr(guest_model.SimGuest, "run_script", recording)
    yield ran


def setup(
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[SandboxAzure, Options, Recipe]:
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    vm = sandbox.estate.vms[VM]
    opts = Options(arm_endpoint=ENDPOINT, settings=FAST, transport=transport or sandbox.transport())
    recipe = Recipe(targets=(RecipeTarget(Target(vm.subscription, vm.resource_group, VM), "auto"),))
    return sandbox, opts, recipe


def applies(ran: list[str]) -> list[str]:
    return [name for name in ran if name.endswith("/apply")]


def events(journal: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


async def test_the_change_batch_is_journalled_before_it_is_sent(
    tmp_path: Path, scripts: list[str]
) -> None:
    sandbox, opts, recipe = setup()
    journal = tmp_path / "j.jsonl"
    done = await run_apply(recipe, opts, HeadlessPrompter(True), journal, lambda e: None)
    assert done.ok, done.to_text()
    assert applies(scripts) == ["rhel9/fips-mode/apply", "rhel9/agent-workaround/apply"]
    records = events(journal)
    begins = [i for i, r in enumerate(records) if r["event"] == "step-begin"]
    batch = [records[i]["step_id"] for i in begins]
    assert batch[2:4] == ["rhel9.fips-mode", "rhel9.agent-workaround"]
    # Both begins come before either end: they were journalled before the one script ran.
    first_end = next(
        i
        for i, r in enumerate(records)
        if r.get("step_id") == "rhel9.fips-mode" and r["event"] == "step-end"
    )
    assert begins[3] < first_end
    assert {r["status"] for r in records if r["event"] == "step-end"} == {"applied"}


async def test_a_batch_cut_short_finishes_alone(tmp_path: Path, scripts: list[str]) -> None:
    """The batch's bash is killed after the first step's check and apply: that step is
    checked alone (holds), the next runs alone; nothing is applied twice."""
    sandbox, opts, recipe = setup()
    sandbox.estate.vms[VM].guest.extra["batch_killed_after"] = 2
    journal = tmp_path / "j.jsonl"
    done = await run_apply(recipe, opts, HeadlessPrompter(True), journal, lambda e: None)
    assert done.ok, done.to_text()
    assert applies(scripts) == ["rhel9/fips-mode/apply", "rhel9/agent-workaround/apply"]
    ends = [(r["step_id"], r["status"]) for r in events(journal) if r["event"] == "step-end"]
    assert ("rhel9.agent-workaround", "not-run") in ends
    assert ends.count(("rhel9.agent-workaround", "applied")) == 1
    assert sandbox.estate.vms[VM].guest.fips_enabled


def change_batch(request: httpx.Request) -> bool:
    """The change batch's Run Command (its script names it)."""
    return request.url.path.endswith("/runCommand") and b"engine/batch/change" in request.content


async def test_killed_mid_batch_resumes_without_repeating(
    tmp_path: Path, scripts: list[str]
) -> None:
    sandbox, _, recipe = setup()
    killer = KillWhen(sandbox.transport(), change_batch)
    opts = Options(arm_endpoint=ENDPOINT, settings=FAST, transport=killer)
    journal = tmp_path / "j.jsonl"
    with pytest.raises(Killed):
        await run_apply(recipe, opts, HeadlessPrompter(True), journal, lambda e: None)
    await asyncio.sleep(0.3)  # Azure runs the script it accepted, with nobody waiting
    sandbox.settle()
    assert applies(scripts) == ["rhel9/fips-mode/apply", "rhel9/agent-workaround/apply"]
    unfinished = Journal(journal).unfinished()
    assert {s for _, s in unfinished} == {"rhel9.fips-mode", "rhel9.agent-workaround"}

    _, plain, _ = setup()
    plain = Options(arm_endpoint=ENDPOINT, settings=FAST, transport=sandbox.transport())
    again = await run_apply(recipe, plain, HeadlessPrompter(True), journal, lambda e: None)
    assert again.ok, again.to_text()
    assert applies(scripts) == ["rhel9/fips-mode/apply", "rhel9/agent-workaround/apply"]
    skips = [r["step_id"] for r in events(journal) if r["event"] == "step-skip"]
    assert set(skips) >= {"rhel9.fips-mode", "rhel9.agent-workaround"}
    assert not Journal(journal).unfinished()
    assert sandbox.estate.vms[VM].guest.fips_enabled


def test_rollback_leaves_what_a_batch_did_not_change(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", run_id="r1")
    journal.append(
        "recipe",
        text=f'version = 1\n[[target]]\nsubscription = "{SUB}"\nresource_group = "g"\nvm = "v"\n',
    )
    record = {
        "target": "11111111-2222-3333-4444-555555555555/g/v",
        "title": "t",
        "risk": "reversible",
        "params": {
            "kind": "guest-script",
            "id": "agent.auto-update",
            "recipe": "ubuntu",
            "step": "auto-update",
        },
    }
    for step_id, status in (
        ("agent.auto-update", "held"),
        ("agent.goal-state", "not-run"),
        ("ubuntu.pro-attach", "applied"),
    ):
        params = {**record["params"], "id": step_id, "step": step_id.split(".")[1]}  # type: ignore[dict-item]
        journal.append(
            "step-begin",
            target=record["target"],
            step_id=step_id,
            step={**record, "params": params},
            undo={},
        )
        journal.append(
            "step-end", target=record["target"], step_id=step_id, status=status, detail=""
        )
    assert [u.begun.step_id for u in pending_undos(journal)] == ["ubuntu.pro-attach"]


class AsksEach:
    ask_each = True

    async def approve(self, items: object) -> set[tuple[str, str]]:
        raise AssertionError

    async def ask_step(self, question: object) -> bool:
        raise AssertionError


@pytest.mark.parametrize(
    ("prompter", "approved", "expected"),
    [
        ("headless", True, ["pro-attach", "fips-updates", "auto-update", "goal-state"]),
        ("headless", False, ["pro-attach"]),  # not approved: the batch stops before it
        ("asks-each", True, ["pro-attach"]),  # its question comes first: it runs alone
    ],
)
def test_a_batch_never_carries_a_step_that_needs_a_question(
    prompter: str, approved: bool, expected: list[str]
) -> None:
    from types import SimpleNamespace

    from fipswizard.engine.batch_write import BatchWriter
    from fipswizard.guest.recipes import load_guest_recipe
    from fipswizard.guest.script_steps import guest_steps

    target = Target(SUB, "g", "v")
    steps = guest_steps(load_guest_recipe("ubuntu"), target)
    unit = SimpleNamespace(key=target.key, steps=steps)
    asker = HeadlessPrompter(True) if prompter == "headless" else AsksEach()
    engine = BatchWriter()
    engine.ctx = SimpleNamespace(prompter=asker)  # type: ignore[assignment]
    engine._approved = {(target.key, "ubuntu.fips-updates")} if approved else set()
    group = engine._batchable(unit, 0)  # type: ignore[arg-type]
    assert [s.params["step"] for s in group] == expected
