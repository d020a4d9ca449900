"""Simulated Ubuntu Pro guests: ubuntu.toml scripts (pro attach, fips-updates).

State: `extra["pro_attached"]`, `extra["pro_services"]["fips-updates"]`, `extra["fips_kernel"]`
(the kernel the FIPS metapackage boots into). Until the reboot, `pro status` would call
fips-updates disabled: the check judges by the enabled service (the apt source), like the script.
"""

from __future__ import annotations

from collections.abc import Mapping

from fipswizard.guest.protocol import secret_var
from fipswizard.sandbox.guest_model import ScriptResult, SimGuest
from fipswizard.sandbox.guest_os import Say, mark_reboot, step_handler

NOBLE_REFUSAL = (
    "rollback refused on Ubuntu {v}: pro disable fips-updates removes the FIPS metapackage and "
    "with it fips=1, while the FIPS initramfs stays strict, which can leave 24.04 unable to boot "
    "(LP #2140749, ubuntu-pro-client #3518 and PR #3522); restore the OS disk from a snapshot "
    "taken before the change instead"
)


def _source(guest: SimGuest) -> str:
    ext = "list" if guest.distro_version == "22.04" else "sources"
    return f"/etc/apt/sources.list.d/ubuntu-fips-updates.{ext}"


@step_handler("ubuntu", "pro-attach", ("ubuntu",))
def pro_attach(guest: SimGuest, phase: str, params: Mapping[str, str], script: str) -> ScriptResult:
    say = Say()
    if phase == "rollback":  # the recipe refuses this (never `pro detach`); nothing to do here
        return say.ok()
    if guest.extra.get("pro_attached"):
        return say.done("attached to Ubuntu Pro")
    if phase != "apply":
        return say.needed("not attached to Ubuntu Pro")
    if not params.get(secret_var("pro_token")):
        return say.refused(
            "not attached to Ubuntu Pro and no token given: provide the secret "
            "pro_token, or use an Ubuntu Pro image"
        )
    guest.extra["pro_attached"] = True  # the token itself is not kept
    return say.fact("attached", "yes").ok()


@step_handler("ubuntu", "fips-updates", ("ubuntu",))
def fips_updates(
    guest: SimGuest, phase: str, params: Mapping[str, str], script: str
) -> ScriptResult:
    say = Say()
    services: dict[str, str] = guest.extra.setdefault("pro_services", {})
    enabled = services.get("fips-updates") == "enabled"
    if phase == "rollback":
        if not enabled:
            return say.done("nothing to undo: fips-updates is not enabled")
        if guest.distro_version != "22.04":
            return say.refused(NOBLE_REFUSAL.format(v=guest.distro_version))
        services["fips-updates"] = "disabled"
        guest.files.pop(_source(guest), None)
        guest.pending_on_boot["fips_enabled"] = False  # the FIPS kernel stays installed
        mark_reboot(guest)
        return say.fact("warning", "the FIPS kernel and libraries stay installed").ok()
    say.fact("fips_enabled", int(guest.fips_enabled)).fact("kernel", guest.kernel)
    if phase == "verify":
        status = "enabled" if enabled and guest.fips_enabled else "disabled"
        say.fact("pro_fips_updates", status)
        if guest.fips_enabled and "fips" in guest.kernel and status == "enabled":
            return say.done(f"FIPS kernel {guest.kernel} running, fips-updates enabled")
        return say.needed("FIPS is not active yet (expected until the reboot)")
    if guest.fips_enabled:
        return say.done(f"fips_enabled=1 (kernel {guest.kernel})")
    if enabled:
        return (
            say.fact("apt_source", _source(guest))
            .fact("metapackage", "ubuntu-azure-fips")
            .fact("reboot_pending", "yes")
            .done("fips-updates is enabled; FIPS takes effect after the reboot")
        )
    if phase != "apply":
        return say.needed("fips-updates is not enabled")
    if not guest.extra.get("pro_attached"):
        return say.error("pro enable fips-updates failed with exit code 1 (not attached)")
    services["fips-updates"] = "enabled"
    guest.files[_source(guest)] = "deb https://esm.ubuntu.com/fips-updates/ubuntu\n"
    guest.pending_on_boot["fips_enabled"] = True
    guest.pending_on_boot["kernel"] = guest.extra.get("fips_kernel", guest.kernel + "-fips")
    mark_reboot(guest)
    say.lines = ["FIPS Updates enabled", "A reboot is required to complete install."]
    return say.fact("reboot_required", "yes").ok()
