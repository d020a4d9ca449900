"""recipes/guest/flatcar.toml in a Flatcar-on-Azure root (OEM grub.cfg, OpenSSL 3 FIPS provider)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .distro_files import FLATCAR_OEM_GRUB, flatcar_linux_append
from .fakeroots import changed, digest, flatcar_root
from .harness import DONE, NEEDED, REFUSED, Guest, assert_step_contract, show
from .standins import STATE, tool_calls

pytestmark = pytest.mark.bwrap
FIPS_LINE = 'set linux_append="$linux_append fips=1"'


def guest(tmp_path: Path, **kw: bool) -> Guest:
    return Guest(flatcar_root(tmp_path / "root", **kw), "flatcar")


async def test_grub_line_is_appended_last_and_rolled_back(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await assert_step_contract(g, "grub-fips")
    assert g.fake.read("oem/grub.cfg") == FLATCAR_OEM_GRUB
    await g.applied("grub-fips")
    text = g.fake.read("oem/grub.cfg")
    assert text == FLATCAR_OEM_GRUB + FIPS_LINE + "\n"
    assert flatcar_linux_append(text) == "flatcar.autologin fips=1"
    assert (g.fake.path / "var/lib/fipswizard/backup/oem/grub.cfg").read_text() == FLATCAR_OEM_GRUB


async def test_a_file_without_final_newline_gets_one(tmp_path: Path) -> None:
    g = guest(tmp_path)
    g.fake.file("oem/grub.cfg").write_text(FLATCAR_OEM_GRUB.rstrip("\n"))
    await g.applied("grub-fips")
    assert g.fake.read("oem/grub.cfg").endswith("terminal_output serial\n" + FIPS_LINE + "\n")


async def test_system_fips_contract(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await assert_step_contract(g, "system-fips")
    await g.applied("system-fips")
    assert g.fake.read("etc/system-fips") == ""


async def test_fipsmodule_generated_only_when_missing(tmp_path: Path) -> None:
    g = guest(tmp_path / "old", fipsmodule=False)
    await assert_step_contract(g, "fipsmodule-cnf")
    await g.applied("fipsmodule-cnf")
    assert tool_calls(g.fake.path, "openssl fipsinstall")[-1] == (
        "openssl fipsinstall -out /etc/ssl/fipsmodule.cnf -module /usr/lib64/ossl-modules/fips.so"
    )
    assert "install-status = INSTALL_SELF_TEST_KATS_RUN" in g.fake.read("etc/ssl/fipsmodule.cnf")
    shipped = guest(tmp_path / "new")  # OpenSSL >= 3.0.8 images ship it
    fresh = digest(shipped.fake.path)
    for phase in ("check", "apply", "rollback"):
        res = await shipped.run("fipsmodule-cnf", phase)
        assert res.rc == DONE, show(res)
    assert digest(shipped.fake.path) == fresh
    assert not tool_calls(shipped.fake.path, "openssl")


async def test_openssl_cnf_contract_and_fips_provider(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await assert_step_contract(g, "openssl-cnf")
    res = await g.verify("openssl-cnf")
    assert res.rc == NEEDED and "openssl_md5=allowed" in res.stdout, show(res)
    await g.applied("openssl-cnf")
    res = await g.verify("openssl-cnf")
    assert res.rc == DONE, show(res)
    assert "openssl_fips_provider=active" in res.stdout and "openssl_md5=refused" in res.stdout
    assert oct(g.fake.file("etc/ssl/openssl.cnf").stat().st_mode & 0o777) == "0o644"


async def test_openssl_cnf_replaces_a_symlink_instead_of_writing_through(tmp_path: Path) -> None:
    g = guest(tmp_path)
    cnf = g.fake.file("etc/ssl/openssl.cnf")
    cnf.unlink()
    cnf.symlink_to("../../usr/share/ssl/openssl.cnf")
    fresh = digest(g.fake.path)
    await g.applied("openssl-cnf")
    assert not cnf.is_symlink() and "fips = fips_sect" in cnf.read_text()
    assert (await g.rollback("openssl-cnf")).rc == DONE
    assert cnf.is_symlink() and digest(g.fake.path) == fresh


async def test_openssl_cnf_refuses_without_fipsmodule(tmp_path: Path) -> None:
    g = guest(tmp_path, fipsmodule=False)
    res = await g.apply("openssl-cnf")
    assert res.rc == REFUSED and "fipsmodule-cnf" in res.stdout, show(res)


async def test_fips_steps_then_reboot_verify_and_full_rollback(tmp_path: Path) -> None:
    g = guest(tmp_path, fipsmodule=False)
    fresh = digest(g.fake.path)
    steps = ["grub-fips", "system-fips", "fipsmodule-cnf", "openssl-cnf"]
    assert [s.id for s in g.recipe.steps] == [*steps, "auto-update", "goal-state", "reboot"]
    await g.applied(*steps)
    assert (await g.verify("grub-fips")).rc == NEEDED  # before the reboot
    assert g.reboot() == "1"
    for step in steps:
        res = await g.verify(step)
        assert res.rc == DONE, f"{step}: {show(res)}"
    for step in reversed(steps):
        res = await g.rollback(step)
        assert res.rc == DONE, f"{step}: {show(res)}"
    boot = {
        "proc",
        "proc/cmdline",
        f"{STATE}/fips-enabled",
        "var/lib/fipswizard",
        "var/lib/fipswizard/reboot-required",
    }
    assert changed(fresh, digest(g.fake.path)) <= boot
    assert g.reboot() == "0"
