"""recipes/guest/agent.toml (auto-update, goal-state), included by every distro recipe."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fipswizard.guest.recipes import all_guest_recipes

from .fakeroots import digest, flatcar_root, rhel_root, ubuntu_root
from .harness import DONE, NEEDED, REFUSED, Guest, assert_step_contract, show
from .standins import STATE, tool_calls

pytestmark = pytest.mark.bwrap


def test_every_distro_recipe_runs_the_agent_steps_before_its_reboot() -> None:
    for recipe in all_guest_recipes():
        if not recipe.matches:
            continue  # fragments such as agent.toml itself
        ids = [s.id for s in recipe.steps]
        assert ids.index("auto-update") < ids.index("goal-state") < ids.index("reboot"), recipe.id
        assert recipe.step("goal-state").recipe == "agent"


async def test_auto_update_contract_keeps_every_other_line(tmp_path: Path) -> None:
    g = Guest(rhel_root(tmp_path / "root", autoupdate="n"), "rhel9")
    before = g.fake.read("etc/waagent.conf").splitlines()
    # The restart lets the agent download the newer goal-state agent: rollback keeps that.
    download = "var/lib/waagent/WALinuxAgent-2.15.0.1"
    await assert_step_contract(
        g,
        "auto-update",
        rollback_leftovers=frozenset({download, f"{download}/HandlerManifest.json"}),
    )
    await g.applied("auto-update")
    after = g.fake.read("etc/waagent.conf").splitlines()
    diff = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert diff == [("AutoUpdate.Enabled=n", "AutoUpdate.Enabled=y")]
    assert tool_calls(g.fake.path, "systemctl")[-1] == "systemctl --no-block restart waagent"


async def test_update_to_latest_version_n_is_turned_on(tmp_path: Path) -> None:
    g = Guest(rhel_root(tmp_path / "root", autoupdate="y"), "rhel9")
    conf = g.fake.file("etc/waagent.conf")
    conf.write_text(conf.read_text() + "AutoUpdate.UpdateToLatestVersion=n  # pinned\n")
    res = await g.check("auto-update")
    assert res.rc == NEEDED and "update_to_latest=n" in res.stdout, show(res)
    await g.applied("auto-update")
    text = g.fake.read("etc/waagent.conf")
    assert text.endswith("AutoUpdate.UpdateToLatestVersion=y  # pinned\n")


@pytest.mark.parametrize("value", ["y", "#"])
async def test_on_or_commented_out_is_done(tmp_path: Path, value: str) -> None:
    g = Guest(rhel_root(tmp_path / "root", autoupdate=value), "rhel9")
    res = await g.check("auto-update")
    assert res.rc == DONE, show(res)


async def test_ubuntu_restarts_walinuxagent(tmp_path: Path) -> None:
    for recipe in ("ubuntu", "agent"):  # from the recipe's service, or detected
        g = Guest(ubuntu_root(tmp_path / recipe, autoupdate="n"), recipe)
        await g.applied("auto-update")
        restart = "systemctl --no-block restart walinuxagent"
        assert tool_calls(g.fake.path, "systemctl")[-1] == restart


async def test_goal_state_waits_for_the_update(tmp_path: Path) -> None:
    g = Guest(rhel_root(tmp_path / "root", daemon="2.9.1.1", autoupdate="y"), "rhel9")
    await assert_step_contract(g, "goal-state", rollback_leftovers=None)
    res = await g.check("goal-state")
    assert "goal_state_agent=2.15.0.1" in res.stdout and "daemon_agent=2.9.1.1" in res.stdout
    assert (g.fake.path / "var/lib/waagent/WALinuxAgent-2.15.0.1").is_dir()


async def test_goal_state_gives_up_after_the_bounded_wait(tmp_path: Path) -> None:
    g = Guest(rhel_root(tmp_path / "root", daemon="2.9.1.1", autoupdate="y"), "rhel9")
    (g.fake.path / STATE / "wireserver-agent").unlink()  # nothing newer on offer
    start = time.monotonic()
    res = await g.apply("goal-state")
    assert res.rc == 1 and "still 2.9.1.1 after 3s" in res.stdout, show(res)
    assert time.monotonic() - start < 30


async def test_goal_state_refuses_while_auto_update_is_off(tmp_path: Path) -> None:
    g = Guest(rhel_root(tmp_path / "root", daemon="2.9.1.1", autoupdate="n"), "rhel9")
    res = await g.apply("goal-state")
    assert res.rc == REFUSED and "agent/auto-update" in res.stdout, show(res)


async def test_quoted_off_value_is_turned_on_and_reported_once(tmp_path: Path) -> None:
    # The agent strips quotes: AutoUpdate.Enabled="n" is off (conf.py ConfigurationProvider.load).
    g = Guest(rhel_root(tmp_path / "root", autoupdate='AutoUpdate.Enabled="n"'), "rhel9")
    download = "var/lib/waagent/WALinuxAgent-2.15.0.1"
    await assert_step_contract(
        g,
        "auto-update",
        rollback_leftovers=frozenset({download, f"{download}/HandlerManifest.json"}),
    )
    res = await g.apply("auto-update")
    assert res.rc == DONE and "changed=" in res.stdout, show(res)
    assert 'AutoUpdate.Enabled="n"' not in g.fake.read("etc/waagent.conf")
    assert "\nAutoUpdate.Enabled=y\n" in g.fake.read("etc/waagent.conf")
    res = await g.apply("auto-update")
    assert res.rc == DONE and "changed=" not in res.stdout, show(res)


@pytest.mark.parametrize(
    ("line", "on"),
    [
        ("AutoUpdate.Enabled=no", True),  # neither y nor n: the agent's default (on)
        ("  AutoUpdate.Enabled = 'n'", True),  # only double quotes are stripped
        ("  AutoUpdate.Enabled=n", False),  # indented: still a setting, not a comment
        ("AutoUpdate.Enabled=None", True),  # "None" means unset
    ],
)
async def test_values_are_read_the_way_the_agent_reads_them(
    tmp_path: Path, line: str, on: bool
) -> None:
    g = Guest(rhel_root(tmp_path / "root", autoupdate=line), "rhel9")
    res = await g.check("auto-update")
    assert res.rc == (DONE if on else NEEDED), show(res)


async def test_stock_flatcar_link_is_replaced_then_restored(tmp_path: Path) -> None:
    g = Guest(flatcar_root(tmp_path / "root"), "flatcar")
    conf = g.fake.file("etc/waagent.conf")
    link = os.readlink(conf)
    assert link == "../usr/share/waagent/waagent.conf"
    shipped = g.fake.read("usr/share/waagent/waagent.conf")
    res = await g.check("auto-update")
    assert res.rc == NEEDED and f"conf_link={link}" in res.stdout, show(res)
    res = await g.apply("auto-update")
    assert res.rc == DONE and "replaced_link=/etc/waagent.conf" in res.stdout, show(res)
    assert not conf.is_symlink() and "\nAutoUpdate.Enabled=y\n" in conf.read_text()
    assert g.fake.read("usr/share/waagent/waagent.conf") == shipped  # /usr is never written
    res = await g.apply("goal-state")
    assert res.rc == DONE and "2.15.0.1" in res.stdout, show(res)
    res = await g.rollback("auto-update")
    assert res.rc == DONE, show(res)
    assert conf.is_symlink() and os.readlink(conf) == link
    assert g.fake.read("etc/waagent.conf") == shipped


async def test_flatcar_agent_that_does_not_update_itself_is_refused_with_the_way_out(
    tmp_path: Path,
) -> None:
    g = Guest(flatcar_root(tmp_path / "root"), "flatcar")
    (g.fake.path / STATE / "wireserver-agent").unlink()  # the sysext agent stays at 2.12.0.4
    await g.applied("auto-update")
    res = await g.apply("goal-state")
    assert res.rc == REFUSED, show(res)
    assert "did not update itself" in res.stdout and "accept-unsupported" in res.stdout


async def test_flatcar_accept_unsupported_changes_nothing_and_says_so(tmp_path: Path) -> None:
    g = Guest(flatcar_root(tmp_path / "root"), "flatcar")
    g.prefix += "export FW_FLATCAR_EXTENSIONS=accept-unsupported\n"
    fresh = digest(g.fake.path)
    for step in ("auto-update", "goal-state"):
        for phase in ("check", "apply"):
            res = await g.run(step, phase)
            assert res.rc == DONE, f"{step}/{phase}: {show(res)}"
            assert "extensions=unsupported-accepted" in res.stdout
    assert digest(g.fake.path) == fresh


async def test_flatcar_with_a_new_enough_agent_is_done(tmp_path: Path) -> None:
    g = Guest(flatcar_root(tmp_path / "root", daemon="2.14.0.1", autoupdate="#"), "flatcar")
    for step in ("auto-update", "goal-state"):
        res = await g.check(step)
        assert res.rc == DONE, f"{step}: {show(res)}"
