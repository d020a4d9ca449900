"""recipes/guest/alma92-tuxcare.toml in an AlmaLinux 9.2 root with stand-in dnf/rpm/tuxctl."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fakeroots import TUXCARE_KEY, alma92_root, changed, digest, files_containing
from .harness import DONE, NEEDED, REFUSED, Guest, assert_step_contract, show
from .standins import LOG, calls, tool_calls
from .standins_el import TUXCARE_KERNEL

pytestmark = pytest.mark.bwrap
RECIPE = "alma92-tuxcare"


def guest(tmp_path: Path) -> Guest:
    return Guest(alma92_root(tmp_path / "root"), RECIPE, secrets={"tuxcare_key": TUXCARE_KEY})


async def test_release_package_contract(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await assert_step_contract(g, "tuxcare-release")
    assert tool_calls(g.fake.path, "dnf") == [
        "dnf -y install https://repo.tuxcare.com/tuxcare/tuxcare-release-latest-9.2.noarch.rpm",
        "dnf -y remove tuxcare-release",
    ]


async def test_tuxctl_contract_rollback_restores_repos_and_drops_the_key(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await g.applied("tuxcare-release")
    await assert_step_contract(g, "tuxctl-register")
    assert not g.fake.file("etc/dnf/vars/tuxcare_token").exists()
    await g.applied("tuxctl-register")
    res = await g.rollback("tuxctl-register")
    assert res.rc == DONE and "rollback_risk=irreversible" in res.stdout, show(res)
    assert "9.2 to the latest 9 minor release" in res.stdout


async def test_licence_key_lives_only_where_tuxcare_puts_it(tmp_path: Path) -> None:
    """The one place on disk is /etc/dnf/vars/tuxcare_token, written by tuxctl by TuxCare's
    design (dnf reads it as $tuxcare_token). In argv the key appears only as tuxctl's own
    --license-key value: TuxCare documents no other way to pass it (recipe notes say so)."""
    g = guest(tmp_path)
    await g.applied("tuxcare-release")
    res = await g.apply("tuxctl-register")
    assert res.rc == DONE, show(res)
    root = g.fake.path
    assert files_containing(root, TUXCARE_KEY) == ["etc/dnf/vars/tuxcare_token", LOG]
    in_log = [line for line in calls(root) if TUXCARE_KEY in line]
    assert in_log == [f"tuxctl --license-key {TUXCARE_KEY}"]
    assert TUXCARE_KEY not in g.script("tuxctl-register", "apply")
    res = await g.check("tuxctl-register")  # `tuxctl -v` prints the token: must stay unprinted
    assert res.rc == DONE and TUXCARE_KEY not in res.stdout + res.stderr, show(res)
    assert "***" not in res.stdout  # not even redacted: never printed at all


async def test_register_without_key_is_refused(tmp_path: Path) -> None:
    g = guest(tmp_path)
    g.secrets = {}
    await g.applied("tuxcare-release")
    res = await g.apply("tuxctl-register")
    assert res.rc == REFUSED and "tuxcare_key" in res.stdout, show(res)


async def test_esu_upgrade_is_irreversible_and_keeps_packages(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await g.applied("tuxcare-release", "tuxctl-register")
    mid = g.fake.read("etc/machine-id").strip()
    kept = {
        "var/lib/rpm/fw-standin-packages",
        f"boot/vmlinuz-{TUXCARE_KERNEL}",
        "boot/grub2/grubenv",  # the TuxCare kernel stays the default
        f"boot/loader/entries/{mid}-{TUXCARE_KERNEL}.conf",
    }
    await assert_step_contract(
        g, "esu-upgrade", rollback_leftovers=frozenset(kept), after_rollback=DONE
    )
    assert g.recipe.step("esu-upgrade").risk == "irreversible"


async def test_upgrade_refuses_before_registration(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await g.applied("tuxcare-release")
    res = await g.apply("esu-upgrade")
    assert res.rc == REFUSED and "not registered" in res.stdout, show(res)


async def test_fips_mode_contract_after_upgrade(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await g.applied("tuxcare-release", "tuxctl-register", "esu-upgrade")
    await assert_step_contract(g, "fips-mode")


async def test_full_recipe_reboots_into_the_tuxcare_fips_kernel(tmp_path: Path) -> None:
    g = guest(tmp_path)
    fresh = digest(g.fake.path)
    for spec in g.recipe.steps:
        if spec.is_reboot:
            continue
        res = await g.check(spec.id)
        if res.rc == NEEDED:
            res = await g.apply(spec.id)
        assert res.rc == DONE, f"{spec.id}: {show(res)}"
    res = await g.verify("fips-mode")
    assert res.rc == NEEDED, show(res)
    assert g.reboot() == "1"
    res = await g.verify("fips-mode")
    assert res.rc == DONE, show(res)
    assert f"kernel={TUXCARE_KERNEL}" in res.stdout and "openssl_fips_provider=active" in res.stdout
    # Whole rollback, newest step first: only the ESU packages and boot state stay changed.
    for spec in reversed(g.recipe.steps):
        if not spec.is_reboot and not spec.rollback_refused:
            res = await g.rollback(spec.id)
            assert res.rc == DONE, f"{spec.id} rollback: {show(res)}"
    left = changed(fresh, digest(g.fake.path))
    assert files_containing(g.fake.path, TUXCARE_KEY) == [LOG]
    assert not any(
        p.startswith(("etc/yum.repos.d", "etc/dnf", "etc/crypto-policies")) for p in left
    ), sorted(left)
