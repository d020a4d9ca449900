"""Simulated RHEL 9 and AlmaLinux 9.2 guests: rhel9.toml and alma92-tuxcare.toml scripts.

State: /etc/crypto-policies/config in `files` (absent = DEFAULT), `extra["grub_fips"]` (fips=1 on
the boot entries), `extra["tuxcare"]` (release / registered / upgraded), the daemon's main.py
for the 2.7.0.6 workaround. FIPS takes effect at the next boot through `pending_on_boot`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fipswizard.guest.protocol import secret_var
from fipswizard.sandbox.guest_model import RHEL9_DAEMON_MAIN, ScriptResult, SimGuest
from fipswizard.sandbox.guest_os import (
    Say,
    backup,
    has_backup,
    mark_reboot,
    restore,
    script_var,
    step_handler,
)

POLICY = "/etc/crypto-policies/config"
TUXCARE_KERNEL = "5.14.0-284.11.1.el9_2.tuxcare.6.x86_64"
TOKEN_FILE = "/etc/dnf/vars/tuxcare_token"
EXPECTED = "        # self._initialize_telemetry()"
_CALL = re.compile(r"(?m)^[ \t]*self\._initialize_telemetry\(\)")
_SED = re.compile(r"(?m)^(.+)(self._initialize_telemetry\(\))")


def policy(guest: SimGuest) -> str:
    return guest.files.get(POLICY, "DEFAULT\n").strip()


def fms_state(guest: SimGuest) -> int:
    """`fips-mode-setup --is-enabled`: 0 enabled, 1 inconsistent, 2 not enabled."""
    fips_policy = policy(guest).startswith("FIPS")
    if guest.fips_enabled:
        return 0 if fips_policy else 1
    return 1 if fips_policy else 2


def _tuxcare(guest: SimGuest) -> dict[str, bool]:
    state: dict[str, bool] = guest.extra.setdefault(
        "tuxcare", {"release": False, "registered": False, "upgraded": False}
    )
    return state


# ------------------------------------------------------------------------- fips-mode


def fips_mode(guest: SimGuest, phase: str, alma: bool) -> ScriptResult:
    say = Say()
    if phase == "rollback":
        guest.files[POLICY] = "DEFAULT\n"
        restore(guest, POLICY)
        guest.extra["grub_fips"] = False
        guest.pending_on_boot["fips_enabled"] = False
        mark_reboot(guest)
        return say.fact("reboot_required", "yes").ok()
    state = fms_state(guest)
    pending = policy(guest).startswith("FIPS") and guest.extra.get("grub_fips", False)
    if phase == "verify":
        say.fact("fips_enabled", int(guest.fips_enabled)).fact("kernel", guest.kernel)
        say.fact("crypto_policy", policy(guest))
        ok = state == 0 and (not alma or "tuxcare" in guest.kernel)
        if alma:
            say.fact("openssl_fips_provider", "active" if guest.fips_enabled else "inactive")
        if ok:
            return say.done("FIPS mode is enabled")
        return say.needed("FIPS mode is not active (expected until the reboot)")
    say.fact("fips_enabled", int(guest.fips_enabled)).fact("crypto_policy", policy(guest))
    say.fact("is_enabled_rc", state)
    if state == 0:
        return say.done("FIPS mode is enabled")
    if pending:
        return say.fact("reboot_pending", "yes").done(
            "FIPS mode is set up; it takes effect after the reboot"
        )
    if phase == "check":
        return say.needed("FIPS mode is not enabled")
    backup(guest, POLICY)
    guest.files[POLICY] = "FIPS\n"
    guest.extra["grub_fips"] = True
    guest.pending_on_boot["fips_enabled"] = True
    mark_reboot(guest)
    say.lines = [
        "Setting system policy to FIPS",
        "FIPS mode will be enabled.",
        "Please reboot the system for the setting to take effect.",
    ]
    return say.fact("reboot_required", "yes").ok()


@step_handler("rhel9", "fips-mode")
def rhel_fips_mode(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    return fips_mode(guest, phase, alma=False)


@step_handler("alma92-tuxcare", "fips-mode")
def alma_fips_mode(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    return fips_mode(guest, phase, alma=True)


# ------------------------------------------------------- rhel9: the 2.7.0.6 workaround


@step_handler("rhel9", "agent-workaround")
def agent_workaround(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    say = Say()
    if phase == "rollback":
        if not has_backup(guest, RHEL9_DAEMON_MAIN):
            return say.done(f"nothing to undo: {RHEL9_DAEMON_MAIN} was not changed")
        if guest.fips_enabled:
            return say.refused(
                "the guest still runs in FIPS mode: restoring the unpatched "
                "2.7.0.6 daemon now would make the agent loop"
            )
        restore(guest, RHEL9_DAEMON_MAIN)
        return say.fact("restored", RHEL9_DAEMON_MAIN).ok()
    say.fact("daemon_agent", guest.daemon_version)
    main = guest.files.get(RHEL9_DAEMON_MAIN)
    if guest.daemon_version != "2.7.0.6":
        return say.done(f"not applicable: the agent daemon is {guest.daemon_version}")
    if main is None:
        return say.done(f"not applicable: {RHEL9_DAEMON_MAIN} not found")
    calls = len(_CALL.findall(main))
    if calls == 0:
        return say.done("self._initialize_telemetry() is commented out (or absent)")
    if calls > 1:
        return say.refused(f"{calls} uncommented self._initialize_telemetry() calls, not 1")
    if phase != "apply":
        return say.needed(
            "daemon 2.7.0.6 calls self._initialize_telemetry(): waagent loops "
            "after the FIPS reboot without the workaround"
        )
    backup(guest, RHEL9_DAEMON_MAIN)
    edited = _SED.sub(r"\1# \2", main)
    grep = [ln for ln in edited.splitlines() if re.search(r"self._initialize_telemetry", ln)]
    if grep != [EXPECTED]:
        restore(guest, RHEL9_DAEMON_MAIN)
        return say.error("grep printed something other than the expected line; restored")
    guest.files[RHEL9_DAEMON_MAIN] = edited
    return (
        say.fact("edited", RHEL9_DAEMON_MAIN)
        .fact("restarted", script_var(script, "FW_SERVICE") or "waagent")
        .ok()
    )


# ------------------------------------------------------------------ alma92-tuxcare


@step_handler("alma92-tuxcare", "tuxcare-release")
def tuxcare_release(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    state, say = _tuxcare(guest), Say()
    if phase == "rollback":
        state["release"] = False
        return say.fact("removed", "tuxcare-release").ok()
    if state["release"]:
        return say.done("tuxcare-release is installed")
    if phase != "apply":
        return say.needed("tuxcare-release is not installed")
    state["release"] = True
    return Say().fact("installed", "tuxcare-release").ok()


@step_handler("alma92-tuxcare", "tuxctl-register")
def tuxctl_register(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    state, say = _tuxcare(guest), Say()
    if phase == "rollback":
        say.fact(
            "warning",
            "leaving TuxCare ESU: the next dnf upgrade moves 9.2 to the latest "
            "9 minor release, which cannot be undone",
        ).fact("rollback_risk", "irreversible")
        state["registered"] = False
        if has_backup(guest, TOKEN_FILE):
            restore(guest, TOKEN_FILE)
        guest.files.pop(TOKEN_FILE, None)
        mark_reboot(guest)
        return say.ok()
    if state["registered"]:
        return say.done("registered with TuxCare ESU")
    if phase != "apply":
        return say.needed("not registered with TuxCare ESU")
    if not state["release"]:
        return say.refused("tuxctl is missing: install tuxcare-release first")
    if not params.get(secret_var("tuxcare_key")):
        return say.refused("no TuxCare ESU licence key: provide the secret tuxcare_key")
    backup(guest, TOKEN_FILE)
    # tuxctl keeps the key here; the sandbox records only that it did, never the value.
    guest.files[TOKEN_FILE] = "(licence credential written by tuxctl; not kept by the sandbox)\n"
    state["registered"] = True
    return say.fact("registered", "yes").ok()


@step_handler("alma92-tuxcare", "esu-upgrade")
def esu_upgrade(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    state, say = _tuxcare(guest), Say()
    if phase == "rollback":
        return say.fact("kept", "the upgraded TuxCare packages stay installed").ok()
    if state["upgraded"]:
        return say.done("TuxCare kernel and openssl are installed")
    if phase != "apply":
        return say.needed("the TuxCare FIPS kernel and openssl are not installed")
    if not state["registered"]:
        return say.refused(
            "not registered with TuxCare ESU: dnf upgrade would not bring the FIPS packages"
        )
    state["upgraded"] = True
    guest.pending_on_boot["kernel"] = TUXCARE_KERNEL
    mark_reboot(guest)
    return say.fact("reboot_required", "yes").ok()
