"""What the guest agent does with an extension: decrypt protected settings, run the handler.

Protected settings reach a guest encrypted to the VM's certificate package. A guest in FIPS
140-3 mode can read them only with a goal-state agent >= 2.14.0.1 AND a package generated
while the VM flag was on; otherwise the agent fails with the log lines users report
(WALinuxAgent #2600, #3489), and the extension fails with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fipswizard.sandbox.model import PACKAGE_FIPS, Extension, VirtualMachine
from fipswizard.sandbox.views import status

P7M_FAILURE = (
    "Enable failed: could not read the protected settings: the guest agent failed to fetch the "
    "tenant certificates: Failed to decrypt /var/lib/waagent/Certificates.p7m: [CommandError] "
    "openssl cms -decrypt -in /var/lib/waagent/Certificates.p7m -inkey "
    "/var/lib/waagent/TransportPrivate.pem -recip /var/lib/waagent/TransportCert.pem returned 4: "
    "Error decrypting CMS structure: error:0308010C:digital envelope routines:"
    "inner_evp_generic_fetch:unsupported:crypto/evp/evp_fetch.c:349:Global default library "
    "context, Algorithm (DES-EDE3-CBC : 21), Properties ()"
)
PFX_FAILURE = (
    "Enable failed: could not read the protected settings: Error converting PFX to PEM: "
    "[CommandError] openssl pkcs12 -nodes -password pass: -in /var/lib/waagent/Certificates.pfx "
    "-out /var/lib/waagent/Certificates.pem returned 1: Error outputting keys and certificates: "
    "error:0308010C:digital envelope routines:inner_evp_generic_fetch:unsupported:"
    "crypto/evp/evp_fetch.c:349:Global default library context, Algorithm (DES-EDE3-CBC : 21), "
    "Properties ()"
)


@dataclass
class ExtensionResult:
    ok: bool
    message: str
    substatuses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def statuses(self) -> list[dict[str, Any]]:
        if self.ok:
            return [
                status(
                    "ProvisioningState/succeeded", "Provisioning succeeded", message=self.message
                )
            ]
        return [
            status(
                "ProvisioningState/failed/1",
                "Provisioning failed",
                level="Error",
                message=self.message,
            )
        ]


def protected_settings_problem(vm: VirtualMachine) -> str | None:
    guest = vm.guest
    if not guest.fips_enabled:
        return None
    if not guest.agent_supports_fips():
        return P7M_FAILURE
    if not vm.fips_flag or vm.cert_package != PACKAGE_FIPS:
        return PFX_FAILURE
    return None


def run_extension(vm: VirtualMachine, ext: Extension) -> ExtensionResult:
    if ext.has_protected:
        problem = protected_settings_problem(vm)
        if problem:
            return ExtensionResult(False, problem)
    kind = ext.full_type.lower()
    if kind == "microsoft.ostcextensions.vmaccessforlinux":
        return _vmaccess(vm, ext.protected or {})
    if kind == "microsoft.azure.extensions.customscript":
        return _custom_script(vm, ext)
    return ExtensionResult(True, "Enable succeeded")


def _vmaccess(vm: VirtualMachine, prot: dict[str, Any]) -> ExtensionResult:
    users = vm.guest.users
    if prot.get("remove_user"):
        users.pop(str(prot["remove_user"]), None)
        return ExtensionResult(True, "Enable succeeded: Succeeded in removing the user.")
    username = prot.get("username")
    if username and (prot.get("password") or prot.get("ssh_key")):
        entry = users.setdefault(str(username), {"sudo": True})
        entry["password_set"] = entry.get("password_set", False) or bool(prot.get("password"))
        entry["ssh_key"] = entry.get("ssh_key", False) or bool(prot.get("ssh_key"))
        if prot.get("expiration"):
            entry["expiration"] = str(prot["expiration"])
        return ExtensionResult(
            True, "Enable succeeded: Succeeded in create the account or set the password."
        )
    if prot.get("reset_ssh"):
        return ExtensionResult(True, "Enable succeeded: Succeeded in resetting sshd_config.")
    return ExtensionResult(False, "Enable failed: No password or ssh_key is specified.")


def _custom_script(vm: VirtualMachine, ext: Extension) -> ExtensionResult:
    prot = ext.protected or {}
    command = prot.get("commandToExecute") or ext.settings.get("commandToExecute")
    if not command:
        return ExtensionResult(False, "Enable failed: commandToExecute is empty or invalid")
    rc, out, err = vm.guest.run_script(str(command), {})
    subs = [
        status("ComponentStatus/StdOut/succeeded", "Provisioning succeeded", message=out),
        status("ComponentStatus/StdErr/succeeded", "Provisioning succeeded", message=err),
    ]
    if rc != 0:
        return ExtensionResult(
            False,
            f"Enable failed: failed to execute command: command terminated with exit "
            f"status={rc}\n[stdout]\n{out}\n[stderr]\n{err}",
            subs,
        )
    return ExtensionResult(
        True, "Enable succeeded: \n[stdout]\n" + out + "\n[stderr]\n" + err, subs
    )
