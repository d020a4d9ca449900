"""recipes/guest/rhel9.toml run for real in a RHEL 9.5-shaped bubblewrap root."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.guest.detect import GuestFacts, NoRecipe, select_recipe
from fipswizard.guest.recipes import all_guest_recipes, load_guest_recipe

from .fakeroots import changed, digest, rhel_root
from .harness import DONE, NEEDED, REFUSED, Guest, assert_step_contract, show
from .standins import STATE, tool_calls

pytestmark = pytest.mark.bwrap


def guest(tmp_path: Path, **kw: str) -> Guest:
    return Guest(rhel_root(tmp_path / "root", **kw), "rhel9")


async def test_fips_mode_contract_and_rollback(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await assert_step_contract(g, "fips-mode")
    root = g.fake.path
    assert "#note fips-mode-setup FIPS_MODE_SETUP_SKIP_WARNING=1" in tool_calls(root, "#note")
    assert tool_calls(root, "fips-mode-setup --disable"), "rollback must use fips-mode-setup"
    assert (root / "var/lib/fipswizard/reboot-required").exists()


async def test_fips_mode_pending_then_verified_after_reboot(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await g.applied("fips-mode")
    res = await g.check("fips-mode")
    assert res.rc == DONE and "reboot_pending=yes" in res.stdout, show(res)
    entry = next((g.fake.path / "boot/loader/entries").glob("*.conf")).read_text()
    assert " fips=1 boot=UUID=" in entry
    assert g.fake.read("etc/dracut.conf.d/40-fips.conf") == 'add_dracutmodules+=" fips "\n'
    res = await g.verify("fips-mode")
    assert res.rc == NEEDED, "verify before the reboot must say needed: " + show(res)
    assert g.reboot() == "1"
    res = await g.verify("fips-mode")
    assert res.rc == DONE, show(res)
    assert "fips_mode_setup=enabled" in res.stdout and "crypto_policy=FIPS" in res.stdout


async def test_rollback_after_reboot_restores_boot_entries_and_policy(tmp_path: Path) -> None:
    g = guest(tmp_path)
    fresh = digest(g.fake.path)
    await g.applied("fips-mode")
    g.reboot()
    res = await g.rollback("fips-mode")
    assert res.rc == DONE and "Red Hat does not support" in res.stdout, show(res)
    diff = changed(fresh, digest(g.fake.path))
    boot_state = {
        "proc",
        "proc/cmdline",
        f"{STATE}/fips-enabled",
        "var/lib/fipswizard",
        "var/lib/fipswizard/reboot-required",
    }
    assert diff <= boot_state, sorted(diff - boot_state)
    assert g.reboot() == "0"


async def test_fips_mode_refuses_an_argon2_luks_volume(tmp_path: Path) -> None:
    g = guest(tmp_path)
    (g.fake.path / STATE / "luks-argon2").write_text("yes\n")
    res = await g.apply("fips-mode")
    assert res.rc == REFUSED and "Argon2" in res.stdout, show(res)


async def test_full_recipe_in_order_then_reboot_and_verify(tmp_path: Path) -> None:
    g = guest(tmp_path)
    steps = [s for s in g.recipe.steps if not s.is_reboot]
    assert [s.id for s in g.recipe.steps] == [
        "fips-mode",
        "agent-workaround",
        "auto-update",
        "goal-state",
        "reboot",
    ]
    for spec in steps:
        res = await g.check(spec.id)
        if res.rc == NEEDED:
            res = await g.apply(spec.id)
        assert res.rc == DONE, f"{spec.id}: {show(res)}"
    g.reboot()
    for spec in steps:
        res = await g.verify(spec.id)
        assert res.rc == DONE, f"{spec.id} verify after reboot: {show(res)}"
    # The workaround ran before the reboot (the agent must come back Ready after it).
    log = tool_calls(g.fake.path, "systemctl")
    assert log.index("systemctl stop waagent") < log.index("systemctl start waagent")


def test_rhel10_gets_no_recipe() -> None:
    assert not any(r.applies_to("rhel", "10.0") for r in all_guest_recipes())
    assert load_guest_recipe("rhel9").applies_to("rhel", "9.6")
    with pytest.raises(NoRecipe, match="RHEL 10|fips=1"):
        select_recipe(GuestFacts(os_id="rhel", os_version="10.0"))
