"""Recipe key `flatcar_extensions` (issue 11 item 3 loose end a): schema, the probe's
preflight and the guest scripts all see the run's choice; it is not a secret."""

from __future__ import annotations

from typing import Any

import pytest

from fipswizard.context import Context, ScriptResult
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.steps import ScriptAction
from fipswizard.errors import RecipeError
from fipswizard.guest.choose import GuestProbeStep, guest_steps_for
from fipswizard.guest.protocol import FLATCAR_EXTENSIONS_VAR
from fipswizard.guest.script_steps import GuestScriptStep, RebootStep
from fipswizard.recipe import dump_recipe, parse_recipe

SUB = "11111111-2222-3333-4444-555555555555"
BASE = {"endpoint": "https://management.azure.com", "api": "2025-04-01"}
ACCEPT = f"{FLATCAR_EXTENSIONS_VAR}=accept-unsupported"


def recipe_text(top: str = "", per_target: str = "") -> str:
    return (
        f'version = 1\nguest = "flatcar"\n{top}\n'
        f'[[target]]\nsubscription = "{SUB}"\nresource_group = "rg"\nvm = "edge"\n{per_target}\n'
        f'[[target]]\nsubscription = "{SUB}"\nresource_group = "rg"\nvm = "other"\n'
    )


def test_default_top_level_and_per_target_choice() -> None:
    plain = parse_recipe(recipe_text())
    assert [t.flatcar_extensions for t in plain.targets] == ["update-agent"] * 2
    top = parse_recipe(recipe_text('flatcar_extensions = "accept-unsupported"'))
    assert [t.flatcar_extensions for t in top.targets] == ["accept-unsupported"] * 2
    one = parse_recipe(recipe_text(per_target='flatcar_extensions = "accept-unsupported"'))
    assert [t.flatcar_extensions for t in one.targets] == ["accept-unsupported", "update-agent"]
    for recipe in (plain, top, one):  # the journal's copy reads back the same
        assert parse_recipe(dump_recipe(recipe)) == recipe


@pytest.mark.parametrize(
    ("top", "per_target", "key", "line"),
    [
        ('flatcar_extensions = "yes"', "", "flatcar_extensions", 3),
        ("", "flatcar_extensions = true", "target[0].flatcar_extensions", 8),
    ],
)
def test_bad_choice_names_file_line_key_and_allowed(
    top: str, per_target: str, key: str, line: int
) -> None:
    with pytest.raises(RecipeError) as err:
        parse_recipe(recipe_text(top, per_target), "fips.toml")
    text = str(err.value)
    assert "fips.toml" in text and key in text and f":{line}" in text
    assert "update-agent | accept-unsupported" in text


def steps_for(choice: str) -> list[Any]:
    recipe = parse_recipe(recipe_text(per_target=f'flatcar_extensions = "{choice}"'))
    steps, _notes = guest_steps_for(recipe.targets[0], {}, {**BASE})
    return steps


def test_every_script_of_the_run_carries_the_choice_in_its_text() -> None:
    steps = steps_for("accept-unsupported")
    scripts = [s for s in steps if isinstance(s, GuestScriptStep)]
    assert scripts and any(isinstance(s, RebootStep) for s in steps)
    for step in scripts:
        action = step.actions()[0]
        assert isinstance(action, ScriptAction) and ACCEPT in action.script
        assert FLATCAR_EXTENSIONS_VAR not in action.secrets  # not a secret: no managed channel
    # A default run's scripts read as before: lib.sh's default applies.
    for step in steps_for("update-agent"):
        if isinstance(step, GuestScriptStep):
            assert FLATCAR_EXTENSIONS_VAR + "=" not in step.actions()[0].script  # type: ignore[union-attr]


class Runner:
    """Records what each script was sent with; answers like a stock Flatcar guest."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def run(self, script: str, **kw: Any) -> ScriptResult:
        self.calls.append((script, kw))
        facts = {
            "probe": "1",
            "os_id": "flatcar",
            "os_version": "4230.2.0",
            "agent_daemon": "2.12.0.4",
            "agent_goal_state": "2.12.0.4",
            "autoupdate_enabled": "n",
            "sshd_ciphers": "aes256-gcm@openssh.com",
            "sshd_ciphers_explicit": "yes",
        }
        if "engine/probe/check" in script:
            return ScriptResult(0, "".join(f"{k}={v}\n" for k, v in facts.items()), "")
        return ScriptResult(0, "done=ok\n", "")


def probe(steps: list[Any]) -> GuestProbeStep:
    found = [s for s in steps if isinstance(s, GuestProbeStep)]
    assert len(found) == 1
    return found[0]


async def test_the_probe_runs_preflight_with_the_choice() -> None:
    seen: list[tuple[str, str]] = []
    ctx = Context(
        prompter=HeadlessPrompter(True),
        runner=Runner(),
        on_finding=lambda level, code, _text: seen.append((level, code)),
    )
    # update-agent: the recipe's agent step turns auto-update on, so the old agent is a
    # warning about that step, never "extensions unsupported".
    assert (await probe(steps_for("update-agent")).check(ctx)).done
    assert [c for _, c in seen if c.startswith(("agent", "extensions"))] == ["agent-version"]
    seen.clear()
    assert (await probe(steps_for("accept-unsupported")).check(ctx)).done
    assert [c for _, c in seen if c.startswith(("agent", "extensions"))] == [
        "extensions-unsupported"
    ]


async def test_the_simulated_flatcar_guest_honours_the_choice_on_action_run_command() -> None:
    """End to end through Run Command: the choice reaches the guest in the script text, so
    the agent step leaves stock Flatcar alone, and no managed run command is created."""
    from fipswizard.azure.arm import ArmClient
    from fipswizard.azure.clouds import CLOUDS
    from fipswizard.azure.credentials import StaticToken
    from fipswizard.context import Settings
    from fipswizard.guest.runners import RunCommandRunner
    from fipswizard.sandbox import FakeClock, SandboxAzure
    from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
    from fipswizard.secrets import Secret

    clock = FakeClock()
    sandbox = SandboxAzure(clock=clock, op_seconds=20)

    async def sleep(seconds: float) -> None:
        clock.advance(max(seconds, 1.0))

    text = recipe_text().replace(SUB, DEMO_SUBSCRIPTION).replace('"rg"', f'"{DEMO_GROUP}"')
    results = {}
    for choice in ("update-agent", "accept-unsupported"):
        recipe = parse_recipe(
            text.replace('vm = "edge"', f'vm = "flatcar-edge"\nflatcar_extensions = "{choice}"')
        )
        rt = recipe.targets[0]
        steps, _ = guest_steps_for(rt, {}, {**BASE})
        agent = next(s for s in steps if s.id == "agent.auto-update")
        async with ArmClient(
            CLOUDS["AzureCloud"],
            StaticToken(Secret("t", "token")),
            correlation_id="c",
            transport=sandbox.transport(),
            sleep=sleep,
            clock=clock,
        ) as arm:
            runner = RunCommandRunner(arm, rt.target, Settings(), sleep=sleep, clock=clock)
            ctx = Context(prompter=HeadlessPrompter(True), runner=runner, arm=arm)
            results[choice] = await agent.check(ctx)
    assert not results["update-agent"].done  # auto-update off: the step would turn it on
    accepted = results["accept-unsupported"]
    assert accepted.done and "left as Flatcar ships it" in accepted.detail
    assert not [e for e in sandbox.log.writes() if "/runCommands/" in e["path"]]
