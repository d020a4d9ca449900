"""recipes/guest/ubuntu.toml in Ubuntu 22.04 / 24.04 roots with a stand-in `pro` client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fipswizard.guest.recipes import load_guest_recipe

from .fakeroots import PRO_TOKEN, digest, files_containing, ubuntu_root
from .harness import DONE, NEEDED, REFUSED, Guest, assert_step_contract, show
from .standins import STATE, calls, tool_calls

pytestmark = pytest.mark.bwrap


def guest(tmp_path: Path, version: str = "22.04", **kw: Any) -> Guest:
    return Guest(
        ubuntu_root(tmp_path / "root", version, **kw), "ubuntu", secrets={"pro_token": PRO_TOKEN}
    )


async def test_attach_contract_and_no_rollback_by_detach(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await assert_step_contract(g, "pro-attach", rollback_leftovers=None)
    spec = g.recipe.step("pro-attach")
    assert spec.rollback_refused and "pro detach" in spec.rollback_refused
    recipe = load_guest_recipe("ubuntu")
    scripts = [
        s.snippet(p)
        for s in recipe.steps
        if not s.is_reboot
        for p in ("check", "apply", "verify", "rollback")
    ]
    assert not any("pro detach" in text for text in scripts)
    assert not tool_calls(g.fake.path, "pro detach")


async def test_pro_token_never_reaches_argv_or_disk(tmp_path: Path) -> None:
    g = guest(tmp_path)
    res = await g.apply("pro-attach")
    assert res.rc == DONE and "attached=yes" in res.stdout, show(res)
    root = g.fake.path
    assert files_containing(root, PRO_TOKEN) == []  # call log included
    assert "#note pro attach-config-mode=600" in calls(root)
    attach = tool_calls(root, "pro attach")
    assert len(attach) == 1 and attach[0].startswith("pro attach --attach-config /run/fipswizard-")
    assert not (root / attach[0].split()[-1].lstrip("/")).exists(), "attach config not removed"
    assert PRO_TOKEN not in g.script("pro-attach", "apply")
    assert PRO_TOKEN not in res.stdout + res.stderr


async def test_attach_without_token_is_refused(tmp_path: Path) -> None:
    g = guest(tmp_path)
    g.secrets = {}
    res = await g.apply("pro-attach")
    assert res.rc == REFUSED and "pro_token" in res.stdout, show(res)


async def test_pro_image_auto_attaches_without_a_token(tmp_path: Path) -> None:
    g = guest(tmp_path, pro_image=True)
    g.secrets = {}
    assert (await g.check("pro-attach")).rc == NEEDED
    res = await g.apply("pro-attach")
    assert res.rc == DONE and "auto-attach" in res.stdout, show(res)


async def test_fips_updates_2204_contract_rollback_keeps_the_fips_kernel(tmp_path: Path) -> None:
    g = guest(tmp_path, attached=True)
    kernel = "5.15.0-1077-azure-fips"
    leftovers = {
        "var/lib/dpkg/status",  # linux-image-...-fips stays installed
        f"boot/vmlinuz-{kernel}",
        f"{STATE}/kernel-next",
        "var/lib/ubuntu-advantage/notices",
        "var/lib/ubuntu-advantage/notices/fips_disable_reboot_required",
    }
    await assert_step_contract(g, "fips-updates", rollback_leftovers=frozenset(leftovers))
    assert f"Package: linux-image-{kernel}" in g.fake.read("var/lib/dpkg/status")
    assert "Package: ubuntu-azure-fips" not in g.fake.read("var/lib/dpkg/status")
    res = await g.rollback("fips-updates")  # a second rollback has nothing left to undo
    assert res.rc == DONE and "nothing to undo" in res.stdout, show(res)


async def test_disabled_before_the_reboot_is_the_expected_pending_state(tmp_path: Path) -> None:
    g = guest(tmp_path, attached=True)
    await g.applied("fips-updates")
    status = await g.fake.runner().run("pro status --format json --all")
    fips = next(s for s in json.loads(status.stdout)["services"] if s["name"] == "fips-updates")
    assert fips["status"] == "disabled"  # what pro says until the reboot
    res = await g.check("fips-updates")
    assert res.rc == DONE and "reboot_pending=yes" in res.stdout, show(res)
    assert "metapackage=ubuntu-azure-fips" in res.stdout
    assert "apt_source=/etc/apt/sources.list.d/ubuntu-fips-updates.list" in res.stdout
    assert (await g.verify("fips-updates")).rc == NEEDED
    assert g.reboot() == "1"
    res = await g.verify("fips-updates")
    assert res.rc == DONE and "kernel=5.15.0-1077-azure-fips" in res.stdout, show(res)
    assert "pro_fips_updates=enabled" in res.stdout


async def test_2404_rollback_is_refused_with_the_reason(tmp_path: Path) -> None:
    g = guest(tmp_path, "24.04", attached=True)
    await assert_step_contract(g, "fips-updates", rollback_leftovers=None)
    assert g.fake.file("etc/apt/sources.list.d/ubuntu-fips-updates.sources").exists()
    before = digest(g.fake.path)
    res = await g.rollback("fips-updates")
    assert res.rc == REFUSED, show(res)
    assert "LP #2140749" in res.stdout and "snapshot" in res.stdout
    assert digest(g.fake.path) == before
    assert not tool_calls(g.fake.path, "pro disable")


async def test_full_recipe_with_token_then_reboot(tmp_path: Path) -> None:
    g = guest(tmp_path, autoupdate="n")
    for spec in g.recipe.steps:
        if spec.is_reboot:
            continue
        res = await g.check(spec.id)
        if res.rc == NEEDED:
            res = await g.apply(spec.id)
        assert res.rc == DONE, f"{spec.id}: {show(res)}"
    g.reboot()
    for spec in g.recipe.steps:
        if not spec.is_reboot:
            res = await g.verify(spec.id)
            assert res.rc == DONE, f"{spec.id} verify: {show(res)}"
    assert files_containing(g.fake.path, PRO_TOKEN) == []
