"""recipes/guest/lib.sh (the prelude of every script) and the syntax of every recipe script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fipswizard.guest.recipes import PHASES, all_guest_recipes, recipe_dir, script_text
from fipswizard.guest.runners import BwrapRunner

LIB = (Path(str(recipe_dir())) / "lib.sh").read_text(encoding="utf-8")


def test_every_recipe_script_parses_with_bash() -> None:
    count = 0
    for recipe in all_guest_recipes():
        for spec in recipe.steps:
            if spec.is_reboot:
                continue
            for phase in PHASES:
                text = script_text(recipe, spec, phase)
                done = subprocess.run(
                    ["bash", "-n"], input=text, text=True, capture_output=True, check=False
                )
                assert done.returncode == 0, f"{spec.recipe}/{spec.id}/{phase}: {done.stderr}"
                count += 1
    assert count >= 4 * 14


def test_every_step_is_documented_and_rollback_is_explicit() -> None:
    for recipe in all_guest_recipes():
        assert recipe.title and recipe.notes, recipe.id
        for spec in recipe.steps:
            if spec.is_reboot:
                assert spec.risk == "disruptive"
                continue
            assert spec.rollback.strip() or spec.rollback_refused or spec.id == "goal-state", (
                f"{recipe.id}/{spec.id} says nothing about rollback"
            )


@pytest.mark.parametrize(
    ("a", "b", "ge"),
    [
        ("2.14.0.1", "2.14.0.1", True),
        ("2.15.0.1", "2.14.0.1", True),
        ("2.7.0.6", "2.14.0.1", False),
        ("2.14", "2.14.0.1", False),
        ("2.14.0.10", "2.14.0.9", True),
        ("", "2.14.0.1", False),
        ("10.0", "9.9.9", True),
    ],
)
def test_version_ge(a: str, b: str, ge: bool) -> None:
    done = subprocess.run(["bash", "-c", LIB + f'\nfw_version_ge "{a}" "{b}"'], check=False)
    assert (done.returncode == 0) is ge


def test_conf_get_reads_like_the_agent(tmp_path: Path) -> None:
    conf = tmp_path / "waagent.conf"
    conf.write_text("# AutoUpdate.Enabled=n\nAutoUpdate.Enabled = y  # on\nOther=1\n")
    script = LIB + f"\nfw_conf_get {conf} AutoUpdate.Enabled\n"
    done = subprocess.run(
        ["bash", "-c", script],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout == "y\n"


@pytest.mark.bwrap
async def test_backup_once_restore_bytes_mode_and_absence(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib").mkdir(parents=True)
    conf = root / "etc/app.conf"
    conf.write_bytes(b"first\x00bytes\n")
    conf.chmod(0o640)
    script = (
        LIB
        + """
fw_backup /etc/app.conf && printf 'changed\\n' >/etc/app.conf && chmod 600 /etc/app.conf
fw_backup /etc/app.conf && printf 'changed again\\n' >/etc/app.conf
fw_backup /etc/new.conf && : >/etc/new.conf
fw_has_backup /etc/app.conf || exit 3
fw_restore /etc/app.conf && fw_restore /etc/new.conf || exit 4
fw_restore /etc/app.conf && exit 5
fw_mark_reboot; [ -e /var/lib/fipswizard/reboot-required ] || exit 6
fw_clear_reboot; [ -e /var/lib/fipswizard ] && exit 7
fw_refuse "because"
"""
    )
    res = await BwrapRunner(root).run(script)
    assert (res.rc, res.stdout) == (20, "refused=because\n"), res
    assert conf.read_bytes() == b"first\x00bytes\n" and conf.stat().st_mode & 0o777 == 0o640
    assert not (root / "etc/new.conf").exists()
    assert sorted(p.name for p in (root / "var/lib").iterdir()) == []  # backups consumed
