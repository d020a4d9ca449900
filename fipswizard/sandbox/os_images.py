"""Marketplace images of the sandbox estates: image reference plus the guest they boot."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from fipswizard.sandbox.guest_model import LATEST_AGENT, RHEL9_DAEMON_MAIN, WAAGENT_CONF, SimGuest

_UBUNTU = """PRETTY_NAME="Ubuntu {full} LTS"
NAME="Ubuntu"
VERSION_ID="{version}"
VERSION="{full} LTS ({codename_title})"
VERSION_CODENAME={codename}
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME={codename}
"""

_RHEL = """NAME="Red Hat Enterprise Linux"
VERSION="{version} (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="{version}"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux {version} (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/en-us/red_hat_enterprise_linux/9"
BUG_REPORT_URL="https://issues.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_BUGZILLA_PRODUCT_VERSION={version}
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="{version}"
"""

_ALMA = """NAME="AlmaLinux"
VERSION="9.2 (Turquoise Kodkod)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.2 (Turquoise Kodkod)"
ANSI_COLOR="0;34"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:almalinux:almalinux:9::baseos"
HOME_URL="https://almalinux.org/"
DOCUMENTATION_URL="https://wiki.almalinux.org/"
BUG_REPORT_URL="https://bugs.almalinux.org/"
REDHAT_SUPPORT_PRODUCT="AlmaLinux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.2"
"""

_FLATCAR = """NAME="Flatcar Container Linux by Kinvolk"
ID=flatcar
ID_LIKE=coreos
VERSION=4230.2.0
VERSION_ID=4230.2.0
BUILD_ID=2025-07-30-1735
SYSEXT_LEVEL=1.0
PRETTY_NAME="Flatcar Container Linux by Kinvolk 4230.2.0 (Oklo)"
ANSI_COLOR="38;5;75"
HOME_URL="https://flatcar.org/"
BUG_REPORT_URL="https://issues.flatcar.org"
FLATCAR_BOARD="amd64-usr"
CPE_NAME="cpe:2.3:o:flatcar-linux:flatcar_linux:4230.2.0:*:*:*:*:*:*:*"
"""

# The lines of waagent 2.7.0.6's daemon/main.py that the RHEL 9.5 workaround edits.
_DAEMON_MAIN_2706 = """    def _initialize_telemetry(self):
        protocol = self.protocol_util.get_protocol()
        initialize_event_logger_vminfo_common_parameters(protocol)

        self.provision_handler.run()

        # Once we have the protocol, complete initialization of the telemetry fields
        # that require the goal state and IMDS
        self._initialize_telemetry()
"""

FLATCAR_SHIPPED_CONF = "/usr/share/waagent/waagent.conf"
_FLATCAR_GRUB = 'set oem_id="azure"\nset linux_append="flatcar.autologin"\n'


def waagent_conf(autoupdate: bool = True) -> str:
    return (
        "# Microsoft Azure Linux Agent Configuration\n"
        "Provisioning.Agent=auto\n"
        f"AutoUpdate.Enabled={'y' if autoupdate else 'n'}\n"
        "OS.EnableFIPS=n\n"
        "Logs.Verbose=n\n"
    )


@dataclass
class Image:
    publisher: str
    offer: str
    sku: str
    distro_id: str
    version: str
    kernel: str
    os_release: str
    fips_kernel: str = ""  # kernel flavour after FIPS is enabled, when it differs
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def reference(self) -> dict[str, str]:
        return {
            "publisher": self.publisher,
            "offer": self.offer,
            "sku": self.sku,
            "version": "latest",
            "exactVersion": _exact(self),
        }


def _exact(image: Image) -> str:
    return {"ubuntu": f"{image.version}.202507150", "flatcar": image.version}.get(
        image.distro_id, f"{image.version}.2025071501"
    )


def _ubuntu(version: str, full: str, codename: str, title: str) -> str:
    return _UBUNTU.format(version=version, full=full, codename=codename, codename_title=title)


IMAGES: dict[str, Image] = {
    "ubuntu-pro-2204": Image(
        "Canonical",
        "0001-com-ubuntu-pro-jammy",
        "pro-22_04-lts-gen2",
        "ubuntu",
        "22.04",
        "5.15.0-1089-azure",
        _ubuntu("22.04", "22.04.5", "jammy", "Jammy Jellyfish"),
        fips_kernel="5.15.0-1077-azure-fips",
        extra={"pro_attached": True},
    ),
    "ubuntu-pro-fips-2204": Image(
        "Canonical",
        "0001-com-ubuntu-pro-jammy-fips",
        "pro-fips-22_04-gen2",
        "ubuntu",
        "22.04",
        "5.15.0-1077-azure-fips",
        _ubuntu("22.04", "22.04.5", "jammy", "Jammy Jellyfish"),
        fips_kernel="5.15.0-1077-azure-fips",
        extra={"pro_attached": True, "pro_services": {"fips-updates": "enabled"}},
    ),
    "ubuntu-pro-2404": Image(
        "Canonical",
        "ubuntu-24_04-lts",
        "ubuntu-pro",
        "ubuntu",
        "24.04",
        "6.8.0-1030-azure",
        _ubuntu("24.04", "24.04.3", "noble", "Noble Numbat"),
        fips_kernel="6.8.0-1030-azure-fips",
        extra={"pro_attached": True},
    ),
    "rhel-95": Image(
        "RedHat",
        "RHEL",
        "9_5",
        "rhel",
        "9.5",
        "5.14.0-503.40.1.el9_5.x86_64",
        _RHEL.format(version="9.5"),
    ),
    "rhel-94": Image(
        "RedHat",
        "RHEL",
        "9_4",
        "rhel",
        "9.4",
        "5.14.0-427.50.1.el9_4.x86_64",
        _RHEL.format(version="9.4"),
    ),
    "rhel-96": Image(
        "RedHat",
        "RHEL",
        "9_6",
        "rhel",
        "9.6",
        "5.14.0-570.22.1.el9_6.x86_64",
        _RHEL.format(version="9.6"),
    ),
    "alma-92": Image(
        "almalinux",
        "almalinux-x86_64",
        "9-gen2",
        "almalinux",
        "9.2",
        "5.14.0-284.11.1.el9_2.x86_64",
        _ALMA,
    ),
    "flatcar-stable": Image(
        "kinvolk",
        "flatcar-container-linux-free",
        "stable-gen2",
        "flatcar",
        "4230.2.0",
        "6.6.95-flatcar",
        _FLATCAR,
        files={"/oem/grub.cfg": _FLATCAR_GRUB},
    ),
}


def make_guest(
    image_key: str,
    *,
    daemon: str = LATEST_AGENT,
    goal_state: str | None = None,
    autoupdate: bool = True,
    fips: bool = False,
    agent_broken: bool = False,
) -> SimGuest:
    """A running guest booted from `image_key`, with the given agent and FIPS state."""
    image = IMAGES[image_key]
    files = {
        "/etc/os-release": image.os_release,
        WAAGENT_CONF: waagent_conf(autoupdate),
        **image.files,
    }
    if daemon == "2.7.0.6" and image.distro_id == "rhel":
        files[RHEL9_DAEMON_MAIN] = _DAEMON_MAIN_2706
    extra = copy.deepcopy(image.extra)
    if image.distro_id == "flatcar":
        # As shipped: the oem-azure sysext keeps the config in read-only /usr and
        # /etc/waagent.conf links to it (flatcar/scripts coreos-base/oem-azure; guest-os.md 4.6).
        files[FLATCAR_SHIPPED_CONF] = files[WAAGENT_CONF]
        extra["symlinks"] = {WAAGENT_CONF: "../usr/share/waagent/waagent.conf"}
    if image.fips_kernel:
        extra["fips_kernel"] = image.fips_kernel
    return SimGuest(
        distro_id=image.distro_id,
        distro_version=image.version,
        kernel=image.kernel,
        fips_enabled=fips,
        daemon_version=daemon,
        goal_state_version=goal_state or daemon,
        agent_broken=agent_broken,
        files=files,
        extra=extra,
    )
