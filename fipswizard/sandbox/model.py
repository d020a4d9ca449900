"""The sandbox's state: subscriptions, features, VMs, extensions and long-running operations.

Plain data. Behaviour lives in the `arm_*` handler modules; JSON shapes in `views.py`.
Names are matched case-insensitively, like ARM: dict keys are lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fipswizard.sandbox.guest_model import SimGuest

FIPS_FEATURE = "Microsoft.Compute/OptInToFips1403Compliance"
COMPUTE = "Microsoft.Compute"
NEVER = float("-inf")  # "long before the sandbox started"

# The certificate package (tenant PFX) the platform hands the guest agent. Only a package
# generated while the VM flag is on can be read by a guest in FIPS 140-3 mode.
PACKAGE_LEGACY = "legacy-3des"
PACKAGE_FIPS = "fips-140-3"


@dataclass
class Feature:
    name: str  # "Namespace/FeatureName", canonical case
    state: str = "NotRegistered"
    registered_at: float | None = None  # clock time it became Registered
    generation: int = 0  # bumps on every register/unregister so stale timers do nothing


@dataclass
class Subscription:
    id: str
    display_name: str
    resource_groups: dict[str, str] = field(default_factory=dict)  # lower -> canonical
    features: dict[str, Feature] = field(default_factory=dict)  # lower full name -> Feature
    provider_registered_at: float = NEVER  # last Microsoft.Compute register

    def add_feature(self, feature: Feature) -> None:
        self.features[feature.name.lower()] = feature

    def feature(self, name: str) -> Feature | None:
        return self.features.get(name.lower())


@dataclass
class Extension:
    name: str
    publisher: str
    type: str
    type_handler_version: str
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other public properties, verbatim
    tags: dict[str, str] = field(default_factory=dict)
    provisioning_state: str = "Creating"
    statuses: list[dict[str, Any]] = field(default_factory=list)
    substatuses: list[dict[str, Any]] = field(default_factory=list)
    has_protected: bool = False
    # Held only until the extension has run, never rendered or dumped.
    protected: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def full_type(self) -> str:
        return f"{self.publisher}.{self.type}"


@dataclass
class Operation:
    id: str
    subscription: str
    location: str
    kind: str  # "put-vm", "deallocate", "start", "runCommand", "extension", ...
    vm: str
    start_t: float
    done_t: float
    status: str = "InProgress"
    end_t: float | None = None
    error: dict[str, Any] | None = None
    error_status: int = 400  # what the Location URL answers once the operation failed
    output: Any = None  # runCommand: the RunCommandResult

    def fail(self, code: str, message: str, status: int = 400) -> None:
        self.status = "Failed"
        self.error = {"code": code, "message": message}
        self.error_status = status


@dataclass
class VirtualMachine:
    name: str
    subscription: str
    resource_group: str
    location: str
    vm_id: str
    props: dict[str, Any]  # stored `properties` (without read-only fields)
    guest: SimGuest
    tags: dict[str, str] = field(default_factory=dict)
    etag_version: int = 1
    provisioning_state: str = "Succeeded"
    power_state: str = "running"
    cert_package: str = PACKAGE_LEGACY
    package_pending: bool = False  # deallocated since the last package: next start regenerates
    public_ip: str = ""
    public_ip_dynamic: bool = True
    extensions: dict[str, Extension] = field(default_factory=dict)
    busy_until: float = NEVER  # lifecycle operations run one after another
    scenario: str = ""
    # Answers for the next GETs of this VM instead of its model, in order: bytes are sent
    # as they are (a truncated body, an HTML error page from a proxy), anything else as JSON
    # (e.g. `{"properties": "oops"}`). Models the unparseable reads the issue-7 trials saw.
    bad_reads: list[Any] = field(default_factory=list)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.name}"
        )

    @property
    def etag(self) -> str:
        return f'"{self.etag_version}"'

    @property
    def fips_flag(self) -> bool:
        caps = self.props.get("additionalCapabilities") or {}
        return caps.get("enableFips1403Encryption") is True

    @property
    def scale_set_id(self) -> str:
        """The Flexible scale set this VM belongs to, as CRP reports it in
        `properties.virtualMachineScaleSet.id` (Compute virtualMachine.json,
        VirtualMachineProperties); "" for a standalone VM."""
        ref = self.props.get("virtualMachineScaleSet") or {}
        return str(ref.get("id", "")) if isinstance(ref, dict) else ""

    @property
    def secrets(self) -> list[Any]:
        return list((self.props.get("osProfile") or {}).get("secrets") or [])

    def regenerate_package(self) -> None:
        self.cert_package = PACKAGE_FIPS if self.fips_flag else PACKAGE_LEGACY
        self.package_pending = False


def normalise_location(name: str) -> str:
    """ARM location names: "West US 2" and "westus2" are the same region."""
    return name.replace(" ", "").lower()
