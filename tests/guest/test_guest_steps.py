"""Recipe loading and the guest steps (script steps and the reboot), with fakes and in bwrap."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from fipswizard.azure.arm import ArmResponse
from fipswizard.azure.arm_url import arm_url
from fipswizard.context import Context, ScriptResult, Settings, Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.steps import HttpAction, Outcome, Risk, ScriptAction, Step
from fipswizard.errors import RecipeError, StepError
from fipswizard.guest.recipes import (
    all_guest_recipes,
    load_guest_recipe,
    recipe_dir,
    script_text,
)
from fipswizard.guest.runners import MAX_SCRIPT_BYTES, BwrapRunner, bwrap_problem
from fipswizard.guest.script_steps import GuestScriptStep, RebootStep, guest_steps
from fipswizard.sandbox.guest_batch import interpret
from fipswizard.secrets import Secret
from tests.virtual_time import VirtualTime

from .osrelease_samples import make_root

KEY = "demo-key-Zq81-do-not-leak"
TARGET = Target("00000000-0000-0000-0000-000000000001", "rg1", "vm1")
ARM = "https://management.azure.com"
LIB = (Path(str(recipe_dir())) / "lib.sh").read_text()
DEMO = """id = "demo"
title = "Demo recipe"
service = "demosvc"
supported = "Demo 1.x"
include = ["common"]
notes = ["a note"]

[[match]]
id = "demo"
version = ">=1,<2"

[[step]]
id = "mode"
title = "Turn the mode on"
risk = "reversible"
secrets = ["demo_key"]
check = '''
[ -e /etc/demo-mode ] && fw_done "mode is on"
fw_needed "mode is off"
'''
apply = '''
[ -n "${FW_SECRET_DEMO_KEY:-}" ] || fw_refuse "no key"
[ -e /etc/demo-mode ] && fw_done "already on"
fw_backup /etc/demo-mode
echo "on via $FW_SERVICE" >/etc/demo-mode
fw_mark_reboot
echo "changed=/etc/demo-mode"
'''
verify = '''
[ "$(fw_fips_enabled)" = 1 ] && [ -e /etc/demo-mode ] && fw_done "mode is active"
fw_needed "mode is not active"
'''
rollback = '''
fw_has_backup /etc/demo-mode || fw_done "nothing to undo"
fw_restore /etc/demo-mode
echo "restored=/etc/demo-mode"
'''
after_reboot = true

[[step]]
id = "reboot"
kind = "reboot"
title = "Reboot"
risk = "disruptive"

[[step]]
id = "late"
title = "Late step"
risk = "read-only"
when = '[ -e /etc/demo-late ]'
check = 'fw_done "late ok"'
apply = 'true'
rollback_refused = "this cannot be undone"
"""
COMMON = """id = "common"
title = "Common steps"

[[step]]
id = "agent"
title = "Agent step"
risk = "reversible"
check = 'fw_done "agent ok"'
apply = 'true'
"""


@pytest.fixture
def recipes(tmp_path: Path) -> Path:
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "lib.sh").write_text(LIB)
    (folder / "demo.toml").write_text(DEMO)
    (folder / "common.toml").write_text(COMMON)
    return folder


# ------------------------------------------------------------------------------ the loader


def test_load_resolves_includes_before_the_reboot(recipes: Path) -> None:
    recipe = load_guest_recipe("demo", base=recipes)
    assert [(s.recipe, s.id) for s in recipe.steps] == [
        ("demo", "mode"),
        ("common", "agent"),
        ("demo", "reboot"),
        ("demo", "late"),
    ]
    assert recipe.applies_to("demo", "1.4") and not recipe.applies_to("demo", "2.0")
    assert recipe.step("mode").secrets == ("demo_key",) and recipe.step("mode").after_reboot
    assert recipe.step("reboot").is_reboot and recipe.step("mode").risk is Risk.REVERSIBLE
    assert [r.id for r in all_guest_recipes(base=recipes)] == ["common", "demo"]


def test_script_text_is_prelude_variables_marker_snippet(recipes: Path) -> None:
    recipe = load_guest_recipe("demo", base=recipes)
    text = script_text(recipe, "agent", "check")
    assert text.startswith(LIB.rstrip("\n") + "\n")
    tail = text[len(LIB.rstrip("\n")) + 1 :]
    assert tail == (
        "FW_RECIPE=demo\nFW_SERVICE=demosvc\n"
        '# fipswizard-script: common/agent/check\nfw_done "agent ok"\n'
    )
    # verify defaults to the check script
    assert script_text(recipe, "agent", "verify").endswith('fw_done "agent ok"\n')
    with pytest.raises(RecipeError):
        script_text(recipe, "reboot", "check")


async def test_when_false_makes_every_phase_a_no_op(recipes: Path, tmp_path: Path) -> None:
    recipe = load_guest_recipe("demo", base=recipes)
    text = script_text(recipe, "late", "apply")
    for phase in ("check", "apply", "verify", "rollback"):
        done = subprocess.run(
            ["bash", "-c", script_text(recipe, "late", phase)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (done.returncode, done.stdout) == (0, "not-applicable=late\n")
    assert text.index("not-applicable") > text.index("# fipswizard-script: demo/late/apply")


def broken(recipes: Path, old: str, new: str) -> RecipeError:
    (recipes / "demo.toml").write_text(DEMO.replace(old, new, 1))
    with pytest.raises(RecipeError) as err:
        load_guest_recipe("demo", base=recipes)
    return err.value


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        ('risk = "read-only"', 'risk = "safe"', "risk", ["found 'safe'", "allowed: read-only"]),
        (
            'title = "Late step"',
            'title = "Late step"\ncolour = "red"',
            "colour",
            ["unknown key", "allowed: id, kind"],
        ),
        ('id = "demo"', 'id = "other"', "id", ["must equal the file name", "allowed: demo"]),
        ('version = ">=1,<2"', 'version = "one"', "version", ["not a version specifier"]),
        ("after_reboot = true", 'after_reboot = "yes"', "after_reboot", ["true or false"]),
        ('secrets = ["demo_key"]', 'secrets = ["Demo Key"]', "secrets", ["lower_snake_case"]),
        (
            'risk = "disruptive"',
            'risk = "disruptive"\ncheck = "true"',
            "check",
            ["a reboot step has no scripts"],
        ),
        ('include = ["common"]', 'include = ["nope"]', "include", ["no such guest recipe"]),
        ("check = 'fw_done \"late ok\"'\n", "", "step", ["missing 'check' script"]),
    ],
)
def test_malformed_recipes_name_file_line_key(
    recipes: Path, old: str, new: str, key: str, words: list[str]
) -> None:
    err = broken(recipes, old, new)
    text = str(err)
    assert err.key == key and f"key '{key}'" in text
    assert text.startswith(str(recipes / "demo.toml")), text
    for word in words:
        assert word in text, text
    if key != "include":
        lines = (recipes / "demo.toml").read_text().splitlines()
        assert err.line is not None and (
            key in lines[err.line - 1] or "step" in lines[err.line - 1]
        ), (err.line, text)


def test_line_numbers_point_at_the_right_step(recipes: Path) -> None:
    err = broken(recipes, 'risk = "read-only"', 'risk = "safe"')
    lines = (recipes / "demo.toml").read_text().splitlines()
    assert lines[err.line - 1] == 'risk = "safe"' if err.line else False


def test_toml_syntax_error_and_include_cycle(recipes: Path) -> None:
    err = broken(recipes, 'title = "Demo recipe"', 'title = "Demo recipe')
    assert err.key == "(syntax)" and err.line == 2
    (recipes / "common.toml").write_text(
        COMMON.replace('title = "Common steps"', 'title = "C"\ninclude = ["demo"]')
    )
    (recipes / "demo.toml").write_text(DEMO)
    with pytest.raises(RecipeError) as cycle:
        load_guest_recipe("demo", base=recipes)
    assert "include" in str(cycle.value)


def test_duplicate_step_ids_after_include(recipes: Path) -> None:
    err = broken(recipes, 'id = "late"', 'id = "agent"')
    assert "appears twice" in str(err) and "'agent'" in str(err)


@pytest.mark.skipif(not any(recipe_dir().iterdir()), reason="no packaged guest recipes yet")
def test_every_packaged_script_is_valid_bash() -> None:
    recipes = all_guest_recipes()
    assert recipes
    for recipe in recipes:
        for spec in recipe.steps:
            if spec.is_reboot:
                continue
            for phase in ("check", "apply", "verify", "rollback"):
                text = script_text(recipe, spec, phase)
                assert len(text.encode()) < MAX_SCRIPT_BYTES
                done = subprocess.run(
                    ["bash", "-n"], input=text, text=True, capture_output=True, check=False
                )
                assert done.returncode == 0, (recipe.id, spec.id, phase, done.stderr)
                marker = f"# fipswizard-script: {spec.recipe}/{spec.id}/{phase}\n"
                assert text.count(marker) == 1


# ------------------------------------------------------------------------------ the steps


class FakeRunner:
    """Answers by marker name; records scripts, environments and timeouts."""

    name = "fake"

    def __init__(self, answers: dict[str, Any], killed_after: int | None = None) -> None:
        self.answers = answers
        self.killed_after = killed_after  # a batch's bash dies after that many parts
        self.calls: list[tuple[str, dict[str, str], float]] = []
        self.read_only: dict[str, set[bool]] = {}  # marker name -> read_only flags seen
        self.parts: list[tuple[str, dict[str, str]]] = []  # the parts of batches, in order

    async def run(
        self,
        script: str,
        *,
        env: Mapping[str, Secret] | None = None,
        timeout: float = 900,
        read_only: bool = False,
        progress: Any = None,
    ) -> ScriptResult:
        found = re.search(r"^# fipswizard-script: (\S+)$", script, re.M)
        name = found.group(1) if found else "?"
        self.calls.append((name, {k: v.reveal() for k, v in (env or {}).items()}, timeout))
        self.read_only.setdefault(name, set()).add(read_only)
        if name.startswith("engine/batch/"):  # several scripts in one: answer each part
            plain = {k: v.reveal() for k, v in (env or {}).items()}
            rc, out, err = interpret(script, plain, self._part, self.killed_after)
            return ScriptResult(rc, out, err)
        return self._answer(name)

    def _answer(self, name: str) -> ScriptResult:
        answer = self.answers[name]
        return answer.pop(0) if isinstance(answer, list) else answer

    def _part(self, text: str, env: Mapping[str, str]) -> tuple[int, str, str]:
        found = re.search(r"^# fipswizard-script: (\S+)$", text, re.M)
        name = found.group(1) if found else "?"
        self.parts.append((name, dict(env)))
        got = self._answer(name)
        return got.rc, got.stdout, got.stderr


def ok(rc: int, out: str = "", err: str = "") -> ScriptResult:
    return ScriptResult(rc, out, err)


def context(
    runner: Any = None,
    arm: Any = None,
    progress: list[str] | None = None,
    vt: VirtualTime | None = None,
    **settings: float,
) -> Context:
    lines = progress if progress is not None else []
    vt = vt or VirtualTime()  # waits run on virtual time: no test sleeps on the wall clock
    return Context(
        prompter=HeadlessPrompter(True),
        settings=Settings(**settings),
        arm=arm,
        runner=runner,
        target=TARGET,
        secrets={"demo_key": Secret(KEY, "demo_key")},
        progress=lines.append,
        clock=vt.clock,
        sleep=vt.sleep,
    )


def demo_steps(recipes: Path) -> list[Step]:
    return guest_steps(
        load_guest_recipe("demo", base=recipes),
        TARGET,
        base={"endpoint": "https://management.azure.com", "api": "2025-04-01"},
    )


def test_guest_steps_params_and_preview(recipes: Path) -> None:
    steps = demo_steps(recipes)
    assert [s.id for s in steps] == ["demo.mode", "common.agent", "demo.reboot", "demo.late"]
    assert [s.kind for s in steps] == [
        "guest-script",
        "guest-script",
        "guest-reboot",
        "guest-script",
    ]
    mode, agent, reboot, late = steps
    assert isinstance(reboot, RebootStep) and reboot.vm == "vm1"
    assert mode.params["reboot_follows"] and not late.params["reboot_follows"]
    assert mode.params["secrets"] == ["demo_key"] and mode.risk is Risk.REVERSIBLE
    assert reboot.risk is Risk.DISRUPTIVE and reboot.params["vm_path"] == TARGET.vm_path
    action = mode.actions()[0]
    assert isinstance(action, ScriptAction) and action.secrets == ("demo_key",)
    assert "# fipswizard-script: demo/mode/apply" in action.script and KEY not in repr(action)
    calls = reboot.actions()
    assert all(isinstance(c, HttpAction) for c in calls)
    assert [(c.method, c.url) for c in calls] == [  # type: ignore[union-attr]
        ("GET", f"{ARM}{TARGET.vm_path}?api-version=2025-04-01&$expand=instanceView"),
        ("POST", f"{ARM}{TARGET.vm_path}/restart?api-version=2025-04-01"),
        ("GET", f"{ARM}{TARGET.vm_path}?api-version=2025-04-01&$expand=instanceView"),
    ]
    assert "vm1" in reboot.confirmation() and "1-5 minutes" in reboot.confirmation()
    record = mode.record()
    again = Step.from_record(record["target"], record["title"], record["risk"], record["params"])
    assert isinstance(again, GuestScriptStep) and again.spec == mode.spec  # type: ignore[attr-defined]


async def test_script_step_check_outcomes(recipes: Path) -> None:
    mode = demo_steps(recipes)[0]
    runner = FakeRunner(
        {
            "demo/mode/check": [
                ok(0, "x=1\ndone=mode is on\n"),
                ok(10, "needed=mode is off\n"),
                ok(20, "refused=no fips-mode-setup\n"),
                ok(2, "", "boom\nline two\n"),
            ]
        }
    )
    progress: list[str] = []
    ctx = context(runner, progress=progress)
    first = await mode.check(ctx)
    assert first.done and first.detail == "mode is on" and first.facts["x"] == "1"
    assert "done=mode is on" in progress
    second = await mode.check(ctx)
    assert not second.done and second.detail == "mode is off"
    with pytest.raises(StepError, match="refused: no fips-mode-setup"):
        await mode.check(ctx)
    with pytest.raises(StepError) as err:
        await mode.check(ctx)
    assert "exit code 2" in str(err.value) and "boom | line two" in str(err.value)


async def test_apply_needs_and_passes_the_secret(recipes: Path) -> None:
    mode = demo_steps(recipes)[0]
    runner = FakeRunner(
        {
            "demo/mode/apply": [ok(0, "changed=x\n"), ok(20, "refused=no key\n")],
            "demo/mode/check": ok(10),
            "demo/mode/verify": ok(0),
        }
    )
    await mode.check(context(runner))
    await mode.apply(context(runner), None)  # type: ignore[arg-type]
    await mode.verify(context(runner))
    assert [(c[0], c[1]) for c in runner.calls] == [
        ("demo/mode/check", {}),
        ("demo/mode/apply", {"FW_SECRET_DEMO_KEY": KEY}),
        ("demo/mode/verify", {}),
    ]  # the secret goes to the apply script only
    # check and verify may be resent after a 5xx or a dropped connection; apply never
    assert runner.read_only == {
        "demo/mode/check": {True},
        "demo/mode/apply": {False},
        "demo/mode/verify": {True},
    }
    assert runner.calls[1][2] == 3600
    runner.calls.clear()
    with pytest.raises(StepError, match="refused: no key"):
        await mode.apply(context(runner), None)  # type: ignore[arg-type]
    bare = Context(prompter=HeadlessPrompter(True), runner=runner, target=TARGET)
    with pytest.raises(StepError, match="demo_key"):
        await mode.apply(bare, None)  # type: ignore[arg-type]
    assert len(runner.calls) == 1  # nothing ran without the secret


async def test_verify_after_reboot_accepts_needed_only_before_the_reboot(recipes: Path) -> None:
    mode, agent, _reboot, late = demo_steps(recipes)
    needed = ok(10, "needed=mode is not active\n")
    runner = FakeRunner(
        {
            "demo/mode/verify": [needed, ok(10, "reboot_pending=no\n"), needed],
            "common/agent/verify": ok(10, "needed=agent\n"),
        }
    )
    ctx = context(runner)
    first = await mode.verify(ctx)
    assert first.done and first.detail.startswith("expected until the reboot")
    assert not (await mode.verify(ctx)).done  # the script says the reboot is not pending
    mode.params["reboot_follows"] = False
    assert not (await mode.verify(ctx)).done
    assert not (await agent.verify(ctx)).done  # not an after_reboot step


async def test_rollback_runs_or_refuses(recipes: Path) -> None:
    mode, agent, _reboot, late = demo_steps(recipes)
    runner = FakeRunner({"demo/mode/rollback": ok(0, "restored=/etc/demo-mode\n")})
    assert await mode.rollback(context(runner), {}) == "restored=/etc/demo-mode"
    with pytest.raises(StepError, match="this cannot be undone"):
        await late.rollback(context(runner), {})
    assert "nothing undone" in await agent.rollback(context(runner), {})


def view(display: str, power: str = "running", at: str | None = None) -> dict[str, Any]:
    status = {"code": "ProvisioningState/succeeded", "displayStatus": display}
    if at:
        status["time"] = at
    instance_view = {
        "vmAgent": {"vmAgentVersion": "2.15.0.1", "statuses": [status]},
        "statuses": [{"code": "ProvisioningState/succeeded"}, {"code": f"PowerState/{power}"}],
    }
    # The VM GET with $expand=instanceView (what the agent wait reads).
    return {"location": "westeurope", "properties": {"instanceView": instance_view}}


class RebootArm:
    """Answers the reboot's requests and records each as the URL ArmClient would send."""

    def __init__(self, views: list[dict[str, Any]]) -> None:
        self.views, self.calls = views, []  # type: list[dict[str, Any]], list[tuple[Any, ...]]
        self.urls: list[tuple[str, str]] = []

    async def get(self, path: str, api_version: str, **query: str) -> ArmResponse:
        self.calls.append(("GET", path))
        self.urls.append(("GET", arm_url(ARM, path, api_version, **query)))
        body = self.views.pop(0) if len(self.views) > 1 else self.views[0]
        return ArmResponse(200, httpx.Headers(), body)

    async def post(
        self,
        path: str,
        api_version: str,
        body: Any = None,
        *,
        retry_safe: bool = False,
        progress: Any = None,
    ) -> ArmResponse:
        self.calls.append(("POST", path, retry_safe, body))
        self.urls.append(("POST", arm_url(ARM, path, api_version)))
        if progress:
            progress("restart: InProgress")
        return ArmResponse(200, httpx.Headers(), None)


async def test_reboot_restarts_and_waits_for_a_fresh_ready(recipes: Path) -> None:
    reboot = demo_steps(recipes)[2]
    arm = RebootArm(
        [
            view("Ready", at="T0"),
            view("Ready", at="T0"),
            view("Not Ready", at="T0"),
            view("Ready", "starting", "T1"),
            view("Ready", at="T1"),
        ]
    )
    progress: list[str] = []
    await reboot.apply(context(arm=arm, progress=progress, agent_poll=0.0), None)  # type: ignore
    path = TARGET.vm_path
    assert arm.calls[0] == ("GET", path)
    assert arm.calls[1] == ("POST", f"{path}/restart", False, None)  # never resent (D10)
    assert len([c for c in arm.calls if c[0] == "GET"]) == 5
    assert "restart: InProgress" in progress
    assert any("Not Ready" in p for p in progress) and "Ready" in progress[-1]
    # The preview shows exactly what was sent (issue 8 item 5), the poll included.
    preview = [(a.method, a.url) for a in reboot.actions() if isinstance(a, HttpAction)]
    assert set(arm.urls) == set(preview) and arm.urls[:2] == preview[:2]


async def test_restart_dropped_after_sending_is_not_resent(recipes: Path) -> None:
    """D10: the connection drops after the restart POST left; Azure may have it. No second
    POST: the step watches the instance view, where the agent's fresh status shows it."""
    from fipswizard.azure.arm_errors import connection_lost

    class DroppingArm(RebootArm):
        async def post(
            self,
            path: str,
            api_version: str,
            body: Any = None,
            *,
            retry_safe: bool = False,
            progress: Any = None,
        ) -> ArmResponse:
            await super().post(path, api_version, body, retry_safe=retry_safe)
            raise connection_lost("POST", path, httpx.ReadError("reset"))

    reboot = demo_steps(recipes)[2]
    arm = DroppingArm([view("Ready", at="T0"), view("Not Ready", at="T0"), view("Ready", at="T1")])
    progress: list[str] = []
    await reboot.apply(context(arm=arm, progress=progress, agent_poll=0.0), None)  # type: ignore
    assert [c for c in arm.calls if c[0] == "POST"] == [
        ("POST", f"{TARGET.vm_path}/restart", False, None)
    ]
    assert any("not sending it again" in p for p in progress) and "Ready" in progress[-1]


async def test_reboot_timeout_explains_what_to_do(recipes: Path) -> None:
    reboot = demo_steps(recipes)[2]
    arm = RebootArm([view("Ready", at="T0"), view("Not Ready", at="T1")])
    vt, started = VirtualTime(), time.monotonic()
    with pytest.raises(StepError) as err:
        # The real defaults (900 s, a poll every 10 s) on virtual time: 0.05 s wall clock
        # before, when the test shrank them and slept for real.
        await reboot.apply(context(arm=arm, vt=vt), None)  # type: ignore[arg-type]
    assert vt.slept == Settings().reboot_timeout and time.monotonic() - started < 1
    assert len([c for c in arm.calls if c[0] == "GET"]) == 1 + 900 // 10 + 1
    assert "did not come back Ready within 900s" in str(err.value)
    assert "Not Ready" in str(err.value)
    assert "2.7.0.6" in err.value.advice and "PFX" in err.value.advice


async def test_local_reboot_runs_systemctl_reboot(recipes: Path) -> None:
    reboot = demo_steps(recipes)[2]
    runner = FakeRunner({"engine/reboot/apply": ok(0, "rebooting=1\n")})
    vt = VirtualTime()
    with pytest.raises(StepError, match="did not go down"):
        await reboot.apply(context(runner, vt=vt), None)  # type: ignore[arg-type]
    assert vt.slept == Settings().reboot_timeout  # waited for the reboot on virtual time
    assert runner.calls[0][0] == "engine/reboot/apply"


async def test_reboot_check_and_verify_with_fakes(recipes: Path) -> None:
    reboot = demo_steps(recipes)[2]
    runner = FakeRunner(
        {
            "engine/reboot/check": [
                ok(0, "done=no reboot pending\n"),
                ok(10, "needed=pending\n"),
                ok(0, "rebooted=1\ndone=rebooted\n"),
                ok(0, "rebooted=1\ndone=rebooted\n"),
            ],
            "demo/mode/verify": [
                ok(0, "done=mode is active\n"),
                ok(10, "needed=not active\n"),
                ok(0, "done=mode is active\n"),
            ],
            "engine/reboot/verify": ok(0, "fips_enabled=1\ndone=reboot finished\n"),
        }
    )
    ctx = context(runner)
    assert (await reboot.check(ctx)).done
    assert not (await reboot.check(ctx)).done
    assert "already rebooted" in (await reboot.check(ctx)).detail
    with pytest.raises(StepError, match="has rebooted, but"):
        await reboot.check(ctx)
    after = await reboot.verify(ctx)
    assert after.done and after.facts["fips_enabled"] == "1"
    # After the reboot, one Run Command: the after-reboot verify, then the marker's clearing.
    assert runner.calls[-1][0] == "engine/batch/after-reboot"
    assert [p[0] for p in runner.parts][-2:] == ["demo/mode/verify", "engine/reboot/verify"]
    assert runner.read_only["engine/reboot/check"] == {True}
    assert runner.read_only["engine/batch/after-reboot"] == {True, False}  # checks; clearing


@pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))
async def test_marker_contract_end_to_end_in_bwrap(recipes: Path, tmp_path: Path) -> None:
    mode, agent, reboot, late = demo_steps(recipes)
    root = make_root(tmp_path, "rhel-9.4", {"var/lib/.keep": ""})
    marker = root / "var/lib/fipswizard/reboot-required"
    ctx = context(BwrapRunner(root, fips_enabled="0"))
    assert not (await mode.check(ctx)).done
    assert (await reboot.check(ctx)).done  # nothing asked for a reboot yet
    await mode.apply(ctx, None)  # type: ignore[arg-type]
    assert (root / "etc/demo-mode").read_text() == "on via demosvc\n" and marker.exists()
    assert (await mode.verify(ctx)).detail.startswith("expected until the reboot")
    assert (await mode.check(ctx)).done
    assert not (await reboot.check(ctx)).done  # the marker is newer than this boot
    assert (await late.check(ctx)).detail == "not applicable here"
    # "Reboot": the marker now predates the boot, and the kernel is in FIPS mode.
    os.utime(marker, (1000, 1000))
    booted = context(BwrapRunner(root, fips_enabled="1"))
    after = await reboot.check(booted)
    assert after.done and "already rebooted" in after.detail
    assert (await reboot.verify(booted)).done and not marker.exists()
    assert (await reboot.check(booted)).done
    assert await mode.rollback(booted, {}) == "restored=/etc/demo-mode"
    assert not (root / "etc/demo-mode").exists()


async def test_reboot_waits_through_a_stopped_moment_without_agent_times(recipes: Path) -> None:
    """A restart passes through a stopped power state; with no agent status time to compare,
    that moment is not "the VM is stopped, start it" (the agent step's shortcut)."""
    reboot = demo_steps(recipes)[2]
    arm = RebootArm([view("Ready"), view("Not Ready", "stopped"), view("Ready")])
    progress: list[str] = []
    await reboot.apply(context(arm=arm, progress=progress), None)  # type: ignore[arg-type]
    assert any("stopped" in p for p in progress) and "Ready" in progress[-1]


async def test_a_batch_answer_lost_is_checked_alone(recipes: Path) -> None:
    """The batch dies after the first step's three parts: the second step's answer is lost,
    so its check runs alone; it held before and still does, so nothing is claimed."""
    mode, agent, _reboot, _late = demo_steps(recipes)
    runner = FakeRunner(
        {
            "demo/mode/check": ok(10, "needed=off\n"),
            "demo/mode/apply": ok(0, "done=switched\n"),
            "demo/mode/verify": ok(0, "done=mode is active\n"),
            "common/agent/check": ok(0, "done=agent fine\n"),
        },
        killed_after=3,
    )
    ctx = context(runner)
    todo = [(mode, Outcome(False, "off")), (agent, Outcome(True, "agent fine"))]
    got = await GuestScriptStep.apply_batch(ctx, todo, [])
    assert [(o.status, o.detail) for o in got] == [
        ("applied", "mode is active"),
        ("held", "agent fine"),
    ]
    assert [c[0] for c in runner.calls] == ["engine/batch/change", "common/agent/check"]
    # The secret went to the batch (managed Run Command) and, inside it, to the apply only.
    assert runner.calls[0][1] == {"FW_SECRET_DEMO_KEY": KEY}
    seen = {name: env.get("FW_SECRET_DEMO_KEY") for name, env in runner.parts}
    assert seen == {"demo/mode/check": None, "demo/mode/apply": KEY, "demo/mode/verify": None}
