"""Simulated Flatcar guests: flatcar.toml scripts (OEM grub.cfg, /etc/system-fips, OpenSSL).

Files live in `guest.files` at their real paths; the kernel runs with fips=1 from the next boot
when the last `set linux_append` line of /oem/grub.cfg appends it (`pending_on_boot`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fipswizard.sandbox.guest_model import ScriptResult, SimGuest, version_tuple
from fipswizard.sandbox.guest_os import Say, backup, has_backup, mark_reboot, restore, step_handler

GRUB = "/oem/grub.cfg"
LINE = 'set linux_append="$linux_append fips=1"'
SYSTEM_FIPS = "/etc/system-fips"
MODULE_CNF = "/etc/ssl/fipsmodule.cnf"
OPENSSL_CNF = "/etc/ssl/openssl.cnf"
FIPS_CNF = (
    "config_diagnostics = 1\nopenssl_conf = openssl_init\n"
    ".include /etc/ssl/fipsmodule.cnf\n[openssl_init]\nproviders = provider_sect\n"
    "[provider_sect]\nfips = fips_sect\nbase = base_sect\n[base_sect]\nactivate = 1\n"
)
DEFAULT_CNF = (
    "openssl_conf = openssl_init\n\n[openssl_init]\nproviders = provider_sect\n\n"
    "[provider_sect]\ndefault = default_sect\n\n[default_sect]\nactivate = 1\n"
)


def _seed(guest: SimGuest) -> None:
    """Image files the OS ships: OpenSSL's config, and fipsmodule.cnf from 3549 on."""
    if guest.extra.get("flatcar_seeded"):
        return
    guest.extra["flatcar_seeded"] = True
    guest.files.setdefault(OPENSSL_CNF, DEFAULT_CNF)
    if version_tuple(guest.distro_version) >= (3549,):
        guest.files.setdefault(MODULE_CNF, "[fips_sect]\nactivate = 1\n")


def _last_append(guest: SimGuest) -> str:
    lines = re.findall(r"(?m)^[ \t]*set[ \t]+linux_append=.*$", guest.files.get(GRUB, ""))
    return lines[-1] if lines else ""


def _simple(
    guest: SimGuest, phase: str, path: str, is_done: bool, what: str, content: str
) -> ScriptResult:
    say = Say()
    if phase == "rollback":
        if not restore(guest, path):
            return say.done(f"nothing to undo: {path} was not changed")
        return say.fact("restored", path).ok()
    if is_done:
        return say.done(f"{path} {what}")
    if phase != "apply":
        return say.needed(f"{path} does not yet hold what FIPS mode needs")
    backup(guest, path)
    guest.files[path] = content
    return say.fact("changed", path).ok()


@step_handler("flatcar", "grub-fips", ("flatcar",))
def grub_fips(guest: SimGuest, phase: str, params: Mapping[str, str], script: str) -> ScriptResult:
    say = Say()
    if phase == "rollback":
        if not has_backup(guest, GRUB):
            return say.done(f"nothing to undo: {GRUB} was not changed")
        restore(guest, GRUB)
        guest.pending_on_boot["fips_enabled"] = False
        mark_reboot(guest)
        return say.fact("restored", GRUB).ok()
    ends_with_fips = _last_append(guest).strip() == LINE
    if phase == "verify":
        say.fact("fips_enabled", int(guest.fips_enabled))
        if guest.fips_enabled and ends_with_fips:
            return say.done("the kernel runs with fips=1")
        return say.needed("fips_enabled=0 (expected until the reboot)")
    if ends_with_fips:
        return say.done(f"{GRUB} appends fips=1 after every other linux_append setting")
    if phase != "apply":
        return say.needed(f"{GRUB} does not end its linux_append settings with fips=1")
    backup(guest, GRUB)
    text = guest.files.get(GRUB, "")
    guest.files[GRUB] = text + ("\n" if text and not text.endswith("\n") else "") + LINE + "\n"
    guest.pending_on_boot["fips_enabled"] = True
    mark_reboot(guest)
    return say.fact("changed", GRUB).fact("reboot_required", "yes").ok()


@step_handler("flatcar", "system-fips", ("flatcar",))
def system_fips(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    return _simple(guest, phase, SYSTEM_FIPS, SYSTEM_FIPS in guest.files, "exists", "")


@step_handler("flatcar", "fipsmodule-cnf", ("flatcar",))
def fipsmodule_cnf(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    _seed(guest)
    return _simple(
        guest,
        phase,
        MODULE_CNF,
        bool(guest.files.get(MODULE_CNF)),
        "exists",
        "[fips_sect]\nactivate = 1\ninstall-status = INSTALL_SELF_TEST_KATS_RUN\n",
    )


@step_handler("flatcar", "openssl-cnf", ("flatcar",))
def openssl_cnf(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    _seed(guest)
    fips = guest.files.get(OPENSSL_CNF) == FIPS_CNF
    if phase == "verify":
        active = fips and bool(guest.files.get(MODULE_CNF))
        say = Say().fact("openssl_fips_provider", "active" if active else "inactive")
        say.fact("openssl_md5", "refused" if active else "allowed")
        return (
            say.done("OpenSSL runs with the FIPS provider")
            if active
            else say.needed("OpenSSL is not in FIPS mode")
        )
    if phase == "apply" and not fips and not guest.files.get(MODULE_CNF):
        return Say().refused(f"{MODULE_CNF} is missing: run step fipsmodule-cnf first")
    return _simple(guest, phase, OPENSSL_CNF, fips, "loads the FIPS provider", FIPS_CNF)
