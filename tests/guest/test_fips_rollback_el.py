"""Apply then rollback of FIPS mode on RHEL 9 and AlmaLinux 9.2, with stand-ins that mirror the
packaged files: /etc/crypto-policies/config with its comment header (DEFAULT on line 18),
grubby rewriting GRUB_CMDLINE_LINUX in /etc/default/grub, fips-mode-setup's countdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from .distro_files import DEFAULT_GRUB
from .fakeroots import alma92_root, rhel_root
from .harness import DONE, Guest, show
from .standins import STATE, tool_calls
from .standins_el import PACKAGED_CONFIG

pytestmark = pytest.mark.bwrap
RECIPES = {"rhel9": rhel_root, "alma92-tuxcare": alma92_root}


def guest(tmp_path: Path, recipe: str) -> Guest:
    return Guest(RECIPES[recipe](tmp_path / "root"), recipe)


async def sh(g: Guest, command: str) -> tuple[int, str]:
    res = await g.fake.runner().run(command + "\n", timeout=60)
    return res.rc, res.stdout


@pytest.mark.parametrize("recipe", sorted(RECIPES))
async def test_apply_reboot_rollback_reboot_ends_consistent_and_default(
    tmp_path: Path, recipe: str
) -> None:
    g = guest(tmp_path, recipe)
    assert g.fake.read("etc/crypto-policies/config").splitlines()[17] == "DEFAULT"
    await g.applied("fips-mode")
    assert "fips=1" in g.fake.read("etc/default/grub")  # grubby rewrote GRUB_CMDLINE_LINUX
    assert g.reboot() == "1"
    res = await g.rollback("fips-mode")
    assert res.rc == DONE, show(res)
    assert "crypto_policy=DEFAULT" in res.stdout
    assert (await sh(g, "update-crypto-policies --show")) == (0, "DEFAULT\n")
    assert g.fake.read("etc/crypto-policies/config") == PACKAGED_CONFIG
    for entry in (g.fake.path / "boot/loader/entries").glob("*.conf"):
        assert "fips=" not in entry.read_text(), entry.name
    assert g.fake.read("etc/default/grub") == DEFAULT_GRUB
    # --disable ran unattended: no 15-second Ctrl-C countdown.
    assert not [n for n in tool_calls(g.fake.path, "#note") if "countdown" in n]
    assert g.reboot() == "0"
    rc, out = await sh(g, "fips-mode-setup --check")
    assert rc == 0 and "FIPS mode is disabled." in out and "Inconsistent" not in out, out


async def test_a_rollback_that_stops_part_way_says_what_is_left(tmp_path: Path) -> None:
    g = guest(tmp_path, "rhel9")
    await g.applied("fips-mode")
    assert g.reboot() == "1"
    (g.fake.path / STATE / "fail-grubby-remove").write_text("yes\n")
    res = await g.rollback("fips-mode")
    assert res.rc == 1, show(res)
    assert "grubby --update-kernel=ALL --remove-args=fips failed" in res.stdout
    assert "left_crypto_policy=DEFAULT" in res.stdout
    assert "left_running_kernel_fips_enabled=1" in res.stdout
    assert "finish=FIPS_MODE_SETUP_SKIP_WARNING=1 fips-mode-setup --disable" in res.stdout
    # The next rollback, once the cause is gone, finishes the job.
    (g.fake.path / STATE / "fail-grubby-remove").unlink()
    res = await g.rollback("fips-mode")
    assert res.rc == DONE, show(res)
    assert g.fake.read("etc/crypto-policies/config") == PACKAGED_CONFIG
    assert g.fake.read("etc/default/grub") == DEFAULT_GRUB
    assert g.reboot() == "0"


async def test_a_non_default_policy_comes_back(tmp_path: Path) -> None:
    g = guest(tmp_path, "rhel9")
    assert (await sh(g, "update-crypto-policies --set DEFAULT:SHA1 >/dev/null"))[0] == 0
    await g.applied("fips-mode")
    g.reboot()
    res = await g.rollback("fips-mode")
    assert res.rc == DONE and "crypto_policy=DEFAULT:SHA1" in res.stdout, show(res)
    assert (await sh(g, "update-crypto-policies --show")) == (0, "DEFAULT:SHA1\n")
