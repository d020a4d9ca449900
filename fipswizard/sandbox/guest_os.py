"""Simulated guests answering fipswizard's scripts: shared helpers, the probe, the reboot
marker scripts and the guest-agent steps (recipes/guest/agent.toml).

Each recipe script carries the marker `# fipswizard-script: <recipe>/<step>/<phase>`; the
handlers here and in `guest_os_<distro>.py` answer them by changing the SimGuest the way the
real script changes a VM, and print what the real script prints (lib.sh's `key=value` lines,
exit codes 0 done/ok, 10 needed, 20 refused, 1 error). Secrets arrive as Run Command
parameters (`FW_SECRET_<NAME>`); no handler stores or prints them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fipswizard.guest.protocol import FLATCAR_EXTENSIONS, FLATCAR_EXTENSIONS_VAR, REBOOT_MARK
from fipswizard.sandbox.guest_model import (
    FIPS_AGENT_MIN,
    WAAGENT_CONF,
    ScriptResult,
    SimGuest,
    script_handler,
    version_tuple,
)

PHASES = ("check", "apply", "verify", "rollback")
StepFn = Callable[[SimGuest, str, Mapping[str, str], str], ScriptResult]


class Say:
    """A script's stdout, one `key=value` fact per line, ended the way lib.sh ends it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def fact(self, key: str, value: object) -> Say:
        self.lines.append(f"{key}={value}")
        return self

    def _end(self, rc: int, line: str = "") -> ScriptResult:
        out = [*self.lines, line] if line else self.lines
        return rc, "".join(f"{x}\n" for x in out), ""

    def ok(self) -> ScriptResult:
        return self._end(0)

    def done(self, why: str) -> ScriptResult:
        return self._end(0, f"done={why}")

    def needed(self, why: str) -> ScriptResult:
        return self._end(10, f"needed={why}")

    def refused(self, why: str) -> ScriptResult:
        return self._end(20, f"refused={why}")

    def error(self, why: str) -> ScriptResult:
        return self._end(1, f"error={why}")


def step_handler(
    recipe: str, step: str, distros: tuple[str, ...] = ("*",)
) -> Callable[[StepFn], StepFn]:
    """Register `fn(guest, phase, params, script)` for all four phases of one recipe step."""

    def register(fn: StepFn) -> StepFn:
        for phase in PHASES:

            def handler(
                guest: SimGuest, script: str, params: Mapping[str, str], _phase: str = phase
            ) -> ScriptResult:
                return fn(guest, _phase, params, script)

            script_handler(f"{recipe}/{step}/{phase}", distros)(handler)
        return fn

    return register


def handled_names() -> set[str]:
    from fipswizard.sandbox import guest_model

    guest_model._load_os_modules()
    return {name for name, _distro in guest_model._HANDLERS}


# ------------------------------------------------------------------- shared state helpers


def script_var(script: str, name: str) -> str:
    """A `NAME=value` line the script wrapper sets (FW_RECIPE, FW_SERVICE)."""
    found = re.search(rf"(?m)^{name}=(\S*)$", script)
    return found.group(1).strip("'\"") if found else ""


def conf_value(text: str, key: str) -> str:
    """The value WALinuxAgent reads for `key` ("" when unset), as its conf.py does: a comment
    only when '#' is the first character, key stripped, value cut at '#' and stripped of
    quotes and blanks, the last line wins, "None" is unset (azurelinuxagent/common/conf.py)."""
    value = ""
    for line in text.split("\n"):
        if not line.startswith("#") and "=" in line:
            name, rest = line.split("=", 1)
            if name.strip() == key:
                value = rest.split("#")[0].strip('" ').strip()
    return "" if value == "None" else value


def switch(text: str, key: str, default: str) -> str:
    """conf.py get_switch: "y" or "n"; any other value (or none) gives the default."""
    value = conf_value(text, key).lower()
    return value if value in ("y", "n") else default


def turn_on(text: str) -> str:
    """lib.sh fw_waagent_turn_on: the deciding line of each switch read as n now says y."""
    lines = text.split("\n")
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        if not line.startswith("#") and "=" in line:
            last[line.split("=", 1)[0].strip()] = i
    for key in ("AutoUpdate.Enabled", "AutoUpdate.UpdateToLatestVersion"):
        i = last.get(key, -1)
        if i >= 0 and switch(lines[i], key, "") == "n":
            head, rest = lines[i].split("=", 1)
            value, hash_, comment = rest.partition("#")
            lead = value[: len(value) - len(value.lstrip())]
            trail = value[len(value.rstrip()) :]
            lines[i] = f"{head}={lead}y{trail}{hash_}{comment}"
    return "\n".join(lines)


def version_ge(a: str, b: str) -> bool:
    return bool(a) and version_tuple(a) >= version_tuple(b)


def mark_reboot(guest: SimGuest) -> None:
    guest.files[REBOOT_MARK] = ""
    guest.extra["reboot_marked_boot"] = guest.boot_count


def backup(guest: SimGuest, path: str) -> None:
    """lib.sh's fw_backup: the first copy wins; None records that the file was absent."""
    guest.extra.setdefault("backups", {}).setdefault(path, guest.files.get(path))


def has_backup(guest: SimGuest, path: str) -> bool:
    return path in guest.extra.get("backups", {})


def restore(guest: SimGuest, path: str) -> bool:
    backups: dict[str, str | None] = guest.extra.get("backups", {})
    if path not in backups:
        return False
    original = backups.pop(path)
    if original is None:
        guest.files.pop(path, None)
    else:
        guest.files[path] = original
    return True


def os_field(guest: SimGuest, key: str) -> str:
    """A whole os-release value (PRETTY_NAME has spaces, so not conf_value)."""
    found = re.findall(rf"(?m)^{re.escape(key)}=(.*)$", guest.os_release)
    return found[-1].strip().strip('"') if found else ""


# ------------------------------------------------------------------------- the probe


@script_handler("engine/probe/check")
def probe(guest: SimGuest, script: str, params: Mapping[str, str]) -> ScriptResult:
    """detect.PROBE_SCRIPT's answer: key=value facts from the simulated guest."""
    conf = guest.files.get(WAAGENT_CONF, "")
    facts: dict[str, Any] = {
        "probe": 1,
        "os_id": guest.distro_id,
        "os_version": guest.distro_version,
        "os_pretty": os_field(guest, "PRETTY_NAME"),
        "os_like": os_field(guest, "ID_LIKE"),
        "kernel": guest.kernel,
        "cmdline_fips": "1" if guest.fips_enabled else "absent",
        "fips_enabled": "1" if guest.fips_enabled else "0",
    }
    el = guest.distro_id in ("rhel", "almalinux")
    if el:
        config = guest.files.get("/etc/crypto-policies/config", "DEFAULT\n")
        words = [ln.split("#", 1)[0].strip() for ln in config.splitlines()]
        facts["crypto_policy"] = next((w for w in words if w), "")
    facts.update(
        agent_daemon=guest.daemon_version,
        agent_goal_state=guest.goal_state_version,
        autoupdate_enabled=conf_value(conf, "AutoUpdate.Enabled"),
        autoupdate_latest=conf_value(conf, "AutoUpdate.UpdateToLatestVersion"),
    )
    if el or guest.distro_id == "flatcar":  # OpenSSH's default list (RHEL: DEFAULT policy)
        facts["sshd_ciphers"] = (
            "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,"
            "aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com"
        )
        facts["sshd_ciphers_explicit"] = "no"  # RHEL: the crypto-policies back-end sets it
    facts["ssh_keys"] = guest.extra.get("ssh_keys", "azureuser:rsa:3072")
    facts["secure_boot"] = guest.extra.get("secure_boot", "disabled")
    facts["luks_pbkdf"] = ""
    if guest.distro_id == "ubuntu":
        svc = guest.extra.get("pro_services", {}).get("fips-updates", "disabled")
        status = "enabled" if svc == "enabled" and guest.fips_enabled else "disabled"
        facts.update(
            pro_attached="yes" if guest.extra.get("pro_attached") else "no",
            pro_fips_updates=status,
            pro_fips_entitled="yes",
            pro_execution="reboot-required"
            if svc == "enabled" and not guest.fips_enabled
            else "inactive",
        )
    if el:
        from fipswizard.sandbox.guest_os_el import fms_state

        facts["fms_is_enabled"] = fms_state(guest)
        facts["fms_check"] = 1 if fms_state(guest) == 1 else 0
        if guest.extra.get("tuxcare", {}).get("release"):  # tuxctl comes with tuxcare-release
            registered = guest.extra["tuxcare"].get("registered")
            facts["tuxcare_registered"] = "yes" if registered else "no"
    major = guest.distro_id + " " + guest.distro_version.split(".")[0]
    provider = FIPS_PROVIDERS.get(major) or FIPS_PROVIDERS.get(guest.distro_id)
    if guest.fips_enabled and provider:  # the fips provider is listed only once it is loaded
        name, version = guest.extra.get("fips_provider", provider)
        facts.update(openssl_fips_name=name, openssl_fips_version=version)
    # the FIPS provider refuses MD5 (Azure Linux's SymCrypt provider does not: validate.py)
    facts["md5"] = "refused" if guest.fips_enabled and provider else "allowed"
    if guest.fips_enabled and guest.distro_id in ("rhel", "almalinux", "flatcar"):
        # Linux 6.0+ and the RHEL 9 backport expose fips_name; the Ubuntu 22.04 5.15 FIPS
        # kernel's: UNCONFIRMED, so not simulated. Flatcar keeps the Kconfig default name.
        facts["kernel_fips_name"] = KERNEL_FIPS_NAMES.get(guest.distro_id, "")
        facts["kernel_fips_version"] = guest.kernel
    return 0, "".join(f"{k}={v}\n" for k, v in facts.items()), ""


# What `openssl list -providers` names the loaded FIPS provider, per "<ID> <major>": strings
# from public runtime transcripts (Ubuntu: a 3rd-party CMMC evidence file; RHEL 9.2+: several
# transcripts; AlmaLinux + TuxCare: cloudlinux/tuxcare-documentation). Flatcar builds fips.so
# from its own OpenSSL (flatcar/scripts dev-libs/openssl ebuild: 3.2.3 in 2024-12 through 3.5.7
# in 2026-07; the version on Stable 4230 is UNCONFIRMED, any 3.2+ is uncertified alike).
# guest.extra["fips_provider"] overrides per VM.
FIPS_PROVIDERS: dict[str, tuple[str, str]] = {
    "ubuntu 22": ("Ubuntu 22.04 OpenSSL Cryptographic Module", "3.0.5-0ubuntu0.1+Fips2.1"),
    "ubuntu 24": ("Ubuntu 24.04 OpenSSL Cryptographic Module", "3.0.13-0ubuntu3+Fips1"),
    "rhel 9": ("Red Hat Enterprise Linux 9 - OpenSSL FIPS Provider", "3.0.7-395c1a240fbfffd8"),
    "almalinux 9": ("OpenSSL FIPS Provider for AlmaLinux 9", "3.0.7-1d2bd88ee26b3c90"),
    "flatcar": ("OpenSSL FIPS Provider", "3.4.1"),
}
KERNEL_FIPS_NAMES = {  # CONFIG_CRYPTO_FIPS_NAME (RHEL kernel.spec; upstream Kconfig default)
    "rhel": "Red Hat Enterprise Linux 9 - Kernel Cryptographic API",
    "almalinux": "Linux Kernel Cryptographic API",
    "flatcar": "Linux Kernel Cryptographic API",
}


@script_handler("engine/validate/check")
def validate(guest: SimGuest, script: str, params: Mapping[str, str]) -> ScriptResult:
    """guest/validate.py's answer: FIPS kernel, MD5 refused, FIPS provider active."""
    on = guest.fips_enabled
    md5 = "refused" if on and guest.distro_id not in ("azurelinux", "mariner") else "allowed"
    out = (
        f"fips_enabled={1 if on else 0}\nopenssl_md5={md5}\n"
        f"fips_provider={'active' if on else 'inactive'}\n"
    )
    return (0 if on else 10), out, ""


# ----------------------------------------------------------------- the reboot step's scripts


@script_handler("engine/reboot/check")
def reboot_check(guest: SimGuest, script: str, params: Mapping[str, str]) -> ScriptResult:
    if REBOOT_MARK not in guest.files:
        return Say().done("no reboot pending")
    if guest.extra.get("reboot_marked_boot", guest.boot_count) < guest.boot_count:
        return Say().fact("rebooted", 1).done("rebooted since the change")
    return Say().needed("a reboot is pending: the changes take effect only after it")


@script_handler("engine/reboot/verify")
def reboot_verify(guest: SimGuest, script: str, params: Mapping[str, str]) -> ScriptResult:
    guest.files.pop(REBOOT_MARK, None)
    guest.extra.pop("reboot_marked_boot", None)
    return Say().fact("fips_enabled", int(guest.fips_enabled)).done("reboot finished")


@script_handler("engine/reboot/apply")
def reboot_apply(guest: SimGuest, script: str, params: Mapping[str, str]) -> ScriptResult:
    guest.request_reboot()
    return Say().fact("rebooting", 1).ok()


# ------------------------------------------------------------- agent.toml: auto-update


ACCEPTED = "extensions=unsupported-accepted"
SYMLINKS = "symlinks"  # guest.extra[SYMLINKS]: path -> link target (files[path] = its content)


def autoupdate_off(guest: SimGuest) -> bool:
    conf = guest.files.get(WAAGENT_CONF, "")
    enabled = switch(conf, "AutoUpdate.Enabled", "y")
    return "n" in (enabled, switch(conf, "AutoUpdate.UpdateToLatestVersion", enabled))


def flatcar_accepted(guest: SimGuest, script: str, params: Mapping[str, str]) -> bool:
    """The run chose flatcar_extensions = "accept-unsupported" (FW_FLATCAR_EXTENSIONS)."""
    found = re.search(rf"{FLATCAR_EXTENSIONS_VAR}=['\"]?([a-z-]+)", script)
    choice = params.get(FLATCAR_EXTENSIONS_VAR) or (found.group(1) if found else "")
    return guest.distro_id == "flatcar" and choice == FLATCAR_EXTENSIONS[1]


@step_handler("agent", "auto-update")
def auto_update(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    say = Say()
    if WAAGENT_CONF not in guest.files:
        return say.refused(f"no {WAAGENT_CONF}: the Azure guest agent is not installed")
    links: dict[str, str] = guest.extra.setdefault(SYMLINKS, {})
    if phase == "rollback":
        if not restore(guest, WAAGENT_CONF):
            return say.done(f"nothing to undo: {WAAGENT_CONF} was not changed")
        link = guest.extra.get("backup_links", {}).pop(WAAGENT_CONF, None)
        if link:
            links[WAAGENT_CONF] = link
            say.fact("restored_link", f"{WAAGENT_CONF} -> {link}")
        guest.restart_agent()
        return say.fact("restored", WAAGENT_CONF).ok()
    conf = guest.files[WAAGENT_CONF]
    say.fact("autoupdate_enabled", conf_value(conf, "AutoUpdate.Enabled") or "default")
    say.fact("update_to_latest", conf_value(conf, "AutoUpdate.UpdateToLatestVersion") or "default")
    if WAAGENT_CONF in links:
        say.fact("conf_link", links[WAAGENT_CONF])
    if not autoupdate_off(guest):
        return say.done("agent auto-update is on")
    if flatcar_accepted(guest, script, params):
        return say.fact(*ACCEPTED.split("=")).done(
            "left as Flatcar ships it: the operator accepted guest FIPS without extension support"
        )
    if phase != "apply":
        return say.needed(f"auto-update is off in {WAAGENT_CONF}")
    backup(guest, WAAGENT_CONF)
    guest.files[WAAGENT_CONF] = turn_on(conf)
    if WAAGENT_CONF in links:  # the link into read-only /usr becomes a file of our own
        link = links.pop(WAAGENT_CONF)
        guest.extra.setdefault("backup_links", {})[WAAGENT_CONF] = link
        say.fact("replaced_link", f"{WAAGENT_CONF} -> {link}")
    guest.restart_agent()
    return (
        say.fact("changed", WAAGENT_CONF)
        .fact("restarted", script_var(script, "FW_SERVICE") or "waagent")
        .ok()
    )


# -------------------------------------------------------------- agent.toml: goal-state


@step_handler("agent", "goal-state")
def goal_state(guest: SimGuest, phase: str, params: Mapping[str, str], script: str) -> ScriptResult:
    say = Say()
    if phase == "rollback":
        return say.ok()
    goal = guest.goal_state_version
    if phase == "apply" and not version_ge(goal, FIPS_AGENT_MIN) and not autoupdate_off(guest):
        guest.restart_agent()  # the agent looks for a newer goal-state agent when it starts
        goal = guest.goal_state_version
    say.fact("daemon_agent", guest.daemon_version).fact("goal_state_agent", goal)
    if version_ge(goal, FIPS_AGENT_MIN):
        return say.done(f"goal-state agent {goal} >= {FIPS_AGENT_MIN}")
    if flatcar_accepted(guest, script, params):
        return say.fact(*ACCEPTED.split("=")).done(
            f"goal-state agent {goal} < {FIPS_AGENT_MIN} accepted: guest FIPS without extension "
            "support"
        )
    if phase != "apply":
        return say.needed(f"goal-state agent {goal} < {FIPS_AGENT_MIN}")
    if autoupdate_off(guest):
        return say.refused(
            "agent auto-update is off in /etc/waagent.conf: run step agent/auto-update first"
        )
    if guest.distro_id == "flatcar":  # the answer "the sysext agent cannot update itself"
        return say.refused(
            f"goal-state agent still {goal}: WALinuxAgent in Flatcar's oem-azure "
            "sysext did not update itself (unconfirmed whether it can); roll back, "
            'or re-run with flatcar_extensions = "accept-unsupported"'
        )
    return say.error(f"goal-state agent still {goal} after the wait")
