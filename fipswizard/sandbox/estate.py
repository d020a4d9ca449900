"""Ready-made sandbox estates: the demo's mixed fleet and a uniform fleet for benchmarks."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from fipswizard.sandbox.guest_model import SimGuest
from fipswizard.sandbox.model import (
    FIPS_FEATURE,
    NEVER,
    PACKAGE_FIPS,
    Extension,
    Feature,
    Subscription,
    VirtualMachine,
)
from fipswizard.sandbox.os_images import IMAGES, make_guest
from fipswizard.sandbox.views import status

DEMO_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
DEMO_GROUP = "fips-demo"
GOV_SUBSCRIPTION = "66666666-7777-8888-9999-000000000000"
GOV_GROUP = "fips-demo-gov"
BENCH_SUBSCRIPTION = "99999999-0000-1111-2222-333333333333"
BENCH_GROUP = "fips-bench"


@dataclass
class Estate:
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # lower id -> sub
    vms: dict[str, VirtualMachine] = field(default_factory=dict)  # lower name -> VM
    unsupported_regions: set[str] = field(default_factory=set)  # refuse the FIPS flag here
    # Uniform-orchestration scale sets: resource id of the set -> instance ids. Their instances
    # are `virtualMachineScaleSets/{set}/virtualMachines/{id}` resources, not VMs
    # (Compute virtualMachineScaleSet.json, VirtualMachineScaleSetVMs_List); see arm_list.py.
    uniform_scale_sets: dict[str, list[str]] = field(default_factory=dict)

    def add_subscription(self, sub: Subscription) -> Subscription:
        self.subscriptions[sub.id.lower()] = sub
        return sub

    def add_vm(self, vm: VirtualMachine) -> VirtualMachine:
        if vm.name.lower() in self.vms:
            raise ValueError(f"duplicate VM name {vm.name!r}: sandbox VM names are unique")
        sub = self.subscriptions[vm.subscription.lower()]
        sub.resource_groups.setdefault(vm.resource_group.lower(), vm.resource_group)
        self.vms[vm.name.lower()] = vm
        return vm

    @property
    def scenarios(self) -> dict[str, str]:
        """VM name -> the situation it models (what the demo prints)."""
        return {vm.name: vm.scenario for vm in self.vms.values()}


def _stable_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stable_ip(seed: str) -> str:
    digest = bytes.fromhex(_stable_hex(seed)[:6])
    return f"20.{digest[0]}.{digest[1]}.{max(1, digest[2])}"


def new_vm(
    sub: str,
    group: str,
    name: str,
    location: str,
    image_key: str,
    guest: SimGuest,
    scenario: str,
    *,
    size: str = "Standard_D2s_v5",
) -> VirtualMachine:
    image = IMAGES[image_key]
    props = {
        "hardwareProfile": {"vmSize": size},
        "storageProfile": {
            "imageReference": image.reference(),
            "osDisk": {
                "osType": "Linux",
                "name": f"{name}_OsDisk_1",
                "createOption": "FromImage",
                "caching": "ReadWrite",
                "diskSizeGB": 30,
                "managedDisk": {
                    "storageAccountType": "Premium_LRS",
                    "id": (
                        f"/subscriptions/{sub}/resourceGroups/{group.upper()}/providers/"
                        f"Microsoft.Compute/disks/{name}_OsDisk_1"
                    ),
                },
                "deleteOption": "Delete",
            },
            "dataDisks": [],
        },
        "osProfile": {
            "computerName": name,
            "adminUsername": "azureuser",
            "linuxConfiguration": {"disablePasswordAuthentication": True, "provisionVMAgent": True},
            "secrets": [],
            "allowExtensionOperations": True,
        },
        "networkProfile": {
            "networkInterfaces": [
                {
                    "id": (
                        f"/subscriptions/{sub}/resourceGroups/{group}/providers/"
                        f"Microsoft.Network/networkInterfaces/{name}-nic"
                    )
                }
            ]
        },
        "timeCreated": "2025-06-02T09:14:07.4412345+00:00",
    }
    vm_id = str(uuid.UUID(_stable_hex(f"{sub}/{name}")[:32], version=4))
    return VirtualMachine(
        name=name,
        subscription=sub,
        resource_group=group,
        location=location,
        vm_id=vm_id,
        props=props,
        guest=guest,
        scenario=scenario,
        public_ip=stable_ip(name),
    )


def bootstrap_extension() -> Extension:
    """A CustomScript extension the VM's owner installed (very common: bootstrap scripts).
    Linux VMs take one extension per handler type ("Multiple VMExtensions per handler not
    supported for OS type 'Linux'", reference arm-conformance.md D6), so a second
    CustomScript under another name is refused."""
    return Extension(
        name="bootstrap",
        publisher="Microsoft.Azure.Extensions",
        type="CustomScript",
        type_handler_version="2.1",
        settings={
            "commandToExecute": "sh bootstrap.sh",
            "fileUris": ["https://example.blob.core.windows.net/boot/bootstrap.sh"],
        },
        tags={"owner": "platform-team"},
        provisioning_state="Succeeded",
        statuses=[
            status(
                "ProvisioningState/succeeded",
                "Provisioning succeeded",
                message="Enable succeeded: \n[stdout]\nbootstrapped\n\n[stderr]\n",
            )
        ],
    )


def demo_estate() -> Estate:
    estate = Estate(unsupported_regions={"mexicocentral"})
    demo = estate.add_subscription(Subscription(DEMO_SUBSCRIPTION, "fips-demo"))
    demo.add_feature(Feature(FIPS_FEATURE, "NotRegistered"))
    # The newest doc revision dropped the feature: this subscription answers FeatureNotFound.
    estate.add_subscription(Subscription(GOV_SUBSCRIPTION, "fips-demo-gov"))

    def vm(name: str, loc: str, image: str, guest: SimGuest, scenario: str) -> VirtualMachine:
        return estate.add_vm(
            new_vm(DEMO_SUBSCRIPTION, DEMO_GROUP, name, loc, image, guest, scenario)
        )

    vm(
        "ubuntu2204-web",
        "uksouth",
        "ubuntu-pro-2204",
        make_guest("ubuntu-pro-2204"),
        "Ubuntu Pro 22.04, agent 2.15.0.1 Ready, guest not FIPS: the happy path",
    )
    vm(
        "ubuntu2404-api",
        "eastasia",
        "ubuntu-pro-2404",
        make_guest("ubuntu-pro-2404"),
        "Ubuntu Pro 24.04, agent 2.15.0.1, not FIPS: rollback is snapshot-only on noble",
    )
    vm(
        "rhel95-db",
        "westus2",
        "rhel-95",
        make_guest("rhel-95", daemon="2.7.0.6", goal_state="2.15.0.1"),
        "RHEL 9.5, daemon 2.7.0.6: the agent loops after the FIPS reboot unless patched",
    )
    app = vm(
        "rhel94-app",
        "westus2",
        "rhel-94",
        make_guest("rhel-94", daemon="2.9.1.1", goal_state="2.15.0.1"),
        "RHEL 9.4 already opted in (flag on, new certificate package), guest not FIPS",
    )
    app.props["additionalCapabilities"] = {"enableFips1403Encryption": True}
    app.cert_package = PACKAGE_FIPS
    vm(
        "alma92-ledger",
        "australiaeast",
        "alma-92",
        make_guest("alma-92", daemon="2.9.1.1", goal_state="2.15.0.1"),
        "AlmaLinux 9.2 (TuxCare FIPS packages), daemon 2.9.1.1, goal-state 2.15.0.1",
    )
    vm(
        "flatcar-edge",
        "westus2",
        "flatcar-stable",
        make_guest("flatcar-stable", daemon="2.12.0.4", autoupdate=False),
        "Flatcar stable as shipped (agent 2.12.0.4, AutoUpdate.Enabled=n, /etc/waagent.conf a "
        "link into /usr): the link becomes a file with auto-update on, then FIPS",
    )
    vm(
        "ubuntu2204-fipsimage",
        "uksouth",
        "ubuntu-pro-fips-2204",
        make_guest("ubuntu-pro-fips-2204", fips=True),
        "Ubuntu Pro FIPS 22.04 image, already FIPS: protected settings fail until "
        "deallocate + start",
    )
    vm(
        "rhel96-notready",
        "eastasia",
        "rhel-96",
        make_guest("rhel-96", daemon="2.7.0.6", goal_state="2.15.0.1", agent_broken=True),
        "RHEL 9.6 with the agent Not Ready: Run Command and extensions cannot work",
    )
    boot = vm(
        "ubuntu2204-bootstrap",
        "uksouth",
        "ubuntu-pro-2204",
        make_guest("ubuntu-pro-2204"),
        "Ubuntu Pro 22.04 with its own CustomScript extension (a bootstrap script): "
        "Azure allows one per handler, so fipswizard validates with VMAccess only",
    )
    boot.extensions["bootstrap"] = bootstrap_extension()
    vm(
        "ubuntu2204-mexico",
        "mexicocentral",
        "ubuntu-pro-2204",
        make_guest("ubuntu-pro-2204"),
        "Ubuntu Pro 22.04 in Mexico Central: the platform rejects the FIPS flag in this region",
    )
    pool = vm(
        "webpool_4f2a9c1e",
        "uksouth",
        "ubuntu-pro-2204",
        make_guest("ubuntu-pro-2204"),
        "Ubuntu Pro 22.04 in a Flexible scale set: the flag does not yet propagate to scale-set "
        "instances (Microsoft's how-to), so fipswizard explains and writes nothing",
    )
    # A Flexible-orchestration VM names its scale set (Compute virtualMachine.json,
    # VirtualMachineProperties.virtualMachineScaleSet); its name is the set's plus a suffix.
    pool.props["virtualMachineScaleSet"] = {
        "id": f"/subscriptions/{DEMO_SUBSCRIPTION}/resourceGroups/{DEMO_GROUP}/providers/"
        "Microsoft.Compute/virtualMachineScaleSets/webpool"
    }
    estate.add_vm(
        new_vm(
            GOV_SUBSCRIPTION,
            GOV_GROUP,
            "ubuntu2204-batch",
            "westus3",
            "ubuntu-pro-2204",
            make_guest("ubuntu-pro-2204"),
            "Ubuntu Pro 22.04; its subscription has no opt-in feature (FeatureNotFound)",
        )
    )
    return estate


def bench_estate(n: int) -> Estate:
    """`n` identical Ubuntu 22.04 VMs in one subscription whose feature is already Registered."""
    if n < 1:
        raise ValueError("bench estate needs at least one VM")
    estate = Estate()
    sub = estate.add_subscription(Subscription(BENCH_SUBSCRIPTION, "fips-bench"))
    sub.add_feature(Feature(FIPS_FEATURE, "Registered", registered_at=NEVER))
    for i in range(1, n + 1):
        name = f"vm{i:04d}"
        estate.add_vm(
            new_vm(
                BENCH_SUBSCRIPTION,
                BENCH_GROUP,
                name,
                "westus2",
                "ubuntu-pro-2204",
                make_guest("ubuntu-pro-2204"),
                "Ubuntu Pro 22.04, agent Ready, feature Registered",
            )
        )
    return estate


def estate_from_spec(spec: str) -> Estate:
    """Parse the CLI's `--estate demo|bench:N`."""
    if spec == "demo":
        return demo_estate()
    if spec.startswith("bench:"):
        try:
            return bench_estate(int(spec.split(":", 1)[1]))
        except ValueError:
            pass
    raise ValueError(f"unknown estate {spec!r}: use 'demo' or 'bench:N'")
