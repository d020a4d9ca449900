"""VM power actions: deallocate, start, restart, powerOff, and guest reboots."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fipswizard.sandbox.model import Operation, VirtualMachine
from fipswizard.sandbox.operations import async_headers, schedule
from fipswizard.sandbox.wire import ArmError, Request, Response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure


def _not_allowed(action: str, vm: VirtualMachine) -> ArmError:
    return ArmError(
        409,
        "OperationNotAllowed",
        f"Operation '{action}' is not allowed on VM '{vm.name}' since the VM is {vm.power_state}.",
    )


def _deallocate(az: SandboxAzure, vm: VirtualMachine) -> Operation:
    def begin(t: float) -> None:
        vm.power_state, vm.provisioning_state = "deallocating", "Updating"
        vm.guest.shutdown()

    def done(t: float, op: Operation) -> None:
        vm.power_state, vm.provisioning_state = "deallocated", "Succeeded"
        # The host releases the certificate package and, for a dynamic IP, the address.
        vm.package_pending = True
        if vm.public_ip_dynamic:
            vm.public_ip = az.new_public_ip()

    return schedule(az, vm, "deallocate", done, on_begin=begin)


def _start(az: SandboxAzure, vm: VirtualMachine) -> Operation:
    def begin(t: float) -> None:
        if vm.power_state != "running":
            vm.power_state, vm.provisioning_state = "starting", "Updating"

    def done(t: float, op: Operation) -> None:
        if vm.power_state == "running":
            return
        if vm.package_pending:
            vm.regenerate_package()
        vm.power_state, vm.provisioning_state = "running", "Succeeded"
        vm.guest.boot()

    return schedule(az, vm, "start", done, on_begin=begin)


def _restart(az: SandboxAzure, vm: VirtualMachine) -> Operation:
    if vm.power_state in ("deallocated", "deallocating", "stopped", "stopping"):
        raise _not_allowed("restart", vm)
    return reboot(az, vm, "restart")


def reboot(az: SandboxAzure, vm: VirtualMachine, kind: str, now: float | None = None) -> Operation:
    """A guest reboot (the restart action, or a script that asked for one)."""

    def begin(t: float) -> None:
        vm.guest.rebooting = True

    def done(t: float, op: Operation) -> None:
        if vm.power_state == "running":
            vm.guest.boot()

    return schedule(az, vm, kind, done, on_begin=begin, now=now)


def _power_off(az: SandboxAzure, vm: VirtualMachine) -> Operation:
    if vm.power_state in ("deallocated", "deallocating"):
        raise _not_allowed("powerOff", vm)

    def begin(t: float) -> None:
        vm.power_state, vm.provisioning_state = "stopping", "Updating"
        vm.guest.shutdown()

    def done(t: float, op: Operation) -> None:
        vm.power_state, vm.provisioning_state = "stopped", "Succeeded"

    return schedule(az, vm, "powerOff", done, on_begin=begin)


POWER_ACTIONS = {
    "deallocate": _deallocate,
    "start": _start,
    "restart": _restart,
    "poweroff": _power_off,
}


def power_action(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    start = POWER_ACTIONS.get(p["action"].lower())
    if start is None:
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The sandbox does not implement the action '{p['action']}' on virtual machines.",
        )
    vm = az.find_vm(p)
    op = start(az, vm)
    return Response(202, async_headers(az, req, op, location=True))
