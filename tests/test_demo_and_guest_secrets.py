"""The demo end to end, and guest secrets (Pro token, TuxCare key) kept out of every output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from fipswizard.context import ScriptResult, Target
from fipswizard.engine.events import Event
from fipswizard.engine.journal import Journal
from fipswizard.engine.preview import plan_json, plan_text
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.guest.runners import RunCommandRunner, parse_run_command
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.sandbox.arm_managed_runcommand import resource_json
from fipswizard.secrets import Secret
from fipswizard.session import Options, make_arm, make_cloud, make_plan, run_apply
from tests.inproc import FAST, Recorder


async def test_demo_every_guest_ends_as_its_scenario_says(tmp_path: Path) -> None:
    from fipswizard.demo_env import compare, demo_environment

    async with demo_environment(tmp_path) as env:
        events: list[Event] = []
        opts = replace(env.opts, settings=replace(env.opts.settings, agent_poll=0.1))
        summary = await run_apply(
            env.recipe, opts, HeadlessPrompter(True), env.journal_path, events.append
        )
        async with httpx.AsyncClient() as client:  # the sandbox serves on this event loop
            state = (await client.get(env.endpoint + "/_sandbox/state")).json()
    assert compare(summary, env.expected) == []
    rows = {k.rsplit("/", 1)[1]: t for k, t in summary.targets.items() if "/" in k}
    guests = state["guests"]
    for name, row in rows.items():
        if str(row.outcome) == "compliant":
            assert state["vms"][name]["fips_flag"] is True, name
            assert str(guests[name]["fips_enabled"]) in ("1", "True"), (name, guests[name])
    # stock Flatcar (agent 2.12.0.4, auto-update off, waagent.conf a link into /usr): the agent
    # step turns auto-update on (the link replaced by a file) and the goal-state agent updates
    assert "agent.auto-update" in rows["flatcar-edge"].applied, rows["flatcar-edge"]
    assert guests["flatcar-edge"]["fips_enabled"] in ("1", 1, True)
    assert "Not Ready" in rows["rhel96-notready"].detail
    assert "mexicocentral" in rows["ubuntu2204-mexico"].detail
    # the RHEL 9.5 daemon loop was avoided by the workaround, applied before the reboot
    applied = rows["rhel95-db"].applied
    assert applied.index("rhel9.agent-workaround") < applied.index("rhel9.reboot")
    # the FIPS image needed the certificate-package fix: deallocate + start
    assert "fix-reallocate" in rows["ubuntu2204-fipsimage"].applied


def left_in_sandbox(sandbox: SandboxAzure, values: tuple[str, ...]) -> list[str]:
    """Where any of `values` sits in the simulated cloud: every file of every guest, every
    managed run command resource still there, and the state dump."""
    found = []
    for vm in sandbox.estate.vms.values():
        for path, text in vm.guest.files.items():
            if any(v in text for v in values):
                found.append(f"{vm.name}:{path}")
        for rc in vm.guest.run_commands.values():
            shown = json.dumps(resource_json(sandbox, vm, rc, instance_view=True))
            if any(v in shown or v in repr(rc) for v in values):
                found.append(f"{vm.name}/runCommands/{rc.name}")
    if any(v in json.dumps(sandbox.state()) for v in values):
        found.append("state dump")
    return found


async def action_channel(
    self: RunCommandRunner, script: str, env: Mapping[str, Secret], timeout: float, say: Any
) -> ScriptResult:
    """What fipswizard did before managed Run Command: secrets as action parameters."""
    body = {
        **self.body(script, timeout),
        "parameters": [{"name": k, "value": v.reveal()} for k, v in env.items()],
    }
    path = f"{self.target.vm_path}/runCommand"
    response = await self.arm.post(path, self.settings.compute_api, body, retry_safe=False)
    return parse_run_command(response.body)


@pytest.mark.parametrize("channel", ["managed", "action"])
async def test_pro_token_and_tuxcare_key_never_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    channel: str,
) -> None:
    """No copy of the Pro token or the TuxCare key anywhere: files, output, previews, and
    not on any simulated guest's disk. The "action" run shows the search would catch it."""
    if channel == "action":
        monkeypatch.setattr(RunCommandRunner, "_managed", action_channel)
    pro, tux = "C1PROtokenAbCdEf0123456789", "ESU-TUXCARE-key-9876543210"
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "access-token-for-secrets-test")
    monkeypatch.setenv("FIPSWIZARD_PRO_TOKEN", pro)
    monkeypatch.setenv("FIPSWIZARD_TUXCARE_KEY", tux)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from fipswizard.headless.commands import print_progress
    from fipswizard.logs import setup_logging

    setup_logging(verbose=True)
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    sandbox.estate.vms["ubuntu2204-web"].guest.extra["pro_attached"] = False
    recorder = Recorder(sandbox.transport())
    opts = Options(arm_endpoint="https://management.azure.com", settings=FAST, transport=recorder)
    vms = [v for n, v in sandbox.estate.vms.items() if n in ("ubuntu2204-web", "alma92-ledger")]
    recipe = Recipe(
        targets=tuple(
            RecipeTarget(Target(v.subscription, v.resource_group, v.name), "auto") for v in vms
        )
    )
    async with make_arm(make_cloud(recipe, opts), "c", opts) as arm:
        plan = await make_plan(recipe, opts, offline=False, arm=arm)
    previews = plan_text(plan, {}) + plan_json(plan, {})
    events: list[Event] = []
    summary = await run_apply(
        recipe, opts, HeadlessPrompter(True), tmp_path / "j.jsonl", events.append
    )
    assert summary.ok, summary.to_text()
    sent = "\n".join(recorder.bodies)
    assert pro in sent and tux in sent  # they really went to the guests
    left = left_in_sandbox(sandbox, (pro, tux))
    if channel == "action":  # RunCommandLinux keeps the script with the export prelude
        assert any("/var/lib/waagent/run-command/download/" in where for where in left), left
        return
    assert left == []
    assert '"protectedParameters"' in sent and '"parameters"' not in sent
    for e in events:
        print_progress(e)
    print(summary.to_text(), summary.to_json())
    out = capsys.readouterr()
    files = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert Journal(tmp_path / "j.jsonl").begun() and any("fipswizard" in f for f in files)
    for haystack in (
        previews,
        out.out,
        out.err,
        repr(events),
        json.dumps(summary.outcomes()),
        *files,
    ):
        assert pro not in haystack and tux not in haystack
    assert "FW_SECRET_PRO_TOKEN" in previews  # the preview names the variable, not the value


async def test_second_demo_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second apply: every step skipped; the only POSTs are Run Command of check scripts."""
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "second-run-token")
    monkeypatch.setenv("FIPSWIZARD_TUXCARE_KEY", "second-run-tuxcare-key")
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    opts = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    names = ("ubuntu2204-web", "rhel95-db", "alma92-ledger", "ubuntu2204-fipsimage")
    vms = [sandbox.estate.vms[n] for n in names]
    recipe = Recipe(
        targets=tuple(
            RecipeTarget(Target(v.subscription, v.resource_group, v.name), "auto") for v in vms
        )
    )
    first = await run_apply(recipe, opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None)
    assert first.ok, first.to_text()
    sandbox.log.clear()
    events: list[Event] = []
    second = await run_apply(recipe, opts, HeadlessPrompter(False), tmp_path / "j", events.append)
    assert second.ok, second.to_text()
    assert all(not t.applied for t in second.targets.values())
    writes = [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in sandbox.log.writes()]
    assert writes and {w for w in writes} == {("POST", "runCommand")}
