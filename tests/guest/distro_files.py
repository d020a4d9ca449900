"""File contents for the fake roots: os-release, waagent.conf, boot entries, package lists, ...

Shaped like the real files (facts: reference guest-os.md, azure-platform.md 9.2), written here
rather than copied: e.g. daemon/main.py is a synthetic file whose lines 120-122 and 144-148 are
the ones the reference quotes from WALinuxAgent 2.7.0.6.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from pathlib import Path

from .standins_el import DEFAULT_GRUB as DEFAULT_GRUB
from .standins_el import crypto_policy_files as crypto_policy_files

DAEMON_MAIN = "usr/lib/python3.9/site-packages/azurelinuxagent/daemon/main.py"
EL_KERNELS = {
    "9.2": "5.14.0-284.11.1.el9_2.x86_64",
    "9.4": "5.14.0-427.50.1.el9_4.x86_64",
    "9.5": "5.14.0-503.40.1.el9_5.x86_64",
    "9.6": "5.14.0-570.22.1.el9_6.x86_64",
}
UBUNTU_KERNELS = {
    "22.04": ("5.15.0-1089-azure", "5.15.0-1077-azure-fips"),
    "24.04": ("6.8.0-1030-azure", "6.8.0-1030-azure-fips"),
}

_OS_RELEASE = {
    "rhel": (
        'NAME="Red Hat Enterprise Linux"\nVERSION="{v} (Plow)"\nID="rhel"\nID_LIKE="fedora"\n'
        'VERSION_ID="{v}"\nPLATFORM_ID="platform:el9"\n'
        'PRETTY_NAME="Red Hat Enterprise Linux {v} (Plow)"\n'
    ),
    "almalinux": (
        'NAME="AlmaLinux"\nVERSION="{v} (Turquoise Kodkod)"\nID="almalinux"\n'
        'ID_LIKE="rhel centos fedora"\nVERSION_ID="{v}"\nPLATFORM_ID="platform:el9"\n'
        'PRETTY_NAME="AlmaLinux {v} (Turquoise Kodkod)"\n'
    ),
    "ubuntu": (
        'PRETTY_NAME="Ubuntu {v} LTS"\nNAME="Ubuntu"\nVERSION_ID="{v}"\n'
        'VERSION="{v} LTS ({title})"\nVERSION_CODENAME={code}\nID=ubuntu\nID_LIKE=debian\n'
        "UBUNTU_CODENAME={code}\n"
    ),
    "flatcar": (
        'NAME="Flatcar Container Linux by Kinvolk"\nID=flatcar\nID_LIKE=coreos\n'
        "VERSION={v}\nVERSION_ID={v}\nBUILD_ID=2025-07-30-1735\nSYSEXT_LEVEL=1.0\n"
        'PRETTY_NAME="Flatcar Container Linux by Kinvolk {v} (Oklo)"\n'
    ),
}
_UBUNTU_NAMES = {"22.04": ("jammy", "Jammy Jellyfish"), "24.04": ("noble", "Noble Numbat")}


def os_release(distro: str, version: str) -> str:
    code, title = _UBUNTU_NAMES.get(version, ("", ""))
    return _OS_RELEASE[distro].format(v=version, code=code, title=title)


_WAAGENT_CONF = """#
# Microsoft Azure Linux Agent Configuration
#

# Enable extension handling. Do not disable this unless you do not need password
# reset, backup, monitoring, or any extension handling whatsoever.
Extensions.Enabled=y

# Which provisioning agent to use. Supported values are "auto" (default), "waagent",
# "cloud-init", or "disabled".
Provisioning.Agent=auto

# Password authentication for root account will be unavailable.
Provisioning.DeleteRootPassword=y

# Enable RDMA management and set up, should only be used in HPC images
# OS.EnableRDMA=y

# Enable or disable goal state processing auto-update, default is enabled
{line}

# Determine the update family, this should not be changed
# AutoUpdate.GAFamily=Prod

# Enable checking RDMA driver version and update
# OS.CheckRdmaDriver=y

# Use OpenSSL FIPS mode for the agent's openssl child processes
OS.EnableFIPS=n

ResourceDisk.Format=y
ResourceDisk.Filesystem=ext4
ResourceDisk.MountPoint=/mnt/resource

Logs.Verbose=n
"""


def waagent_conf(autoupdate: str) -> str:
    """A waagent.conf like the distros ship; `autoupdate` "y", "n", "#" (commented out) or a
    whole `AutoUpdate.Enabled...` line (e.g. a quoted value)."""
    if autoupdate == "#":
        line = "# AutoUpdate.Enabled=y"
    elif "AutoUpdate." in autoupdate:
        line = autoupdate
    else:
        line = f"AutoUpdate.Enabled={autoupdate}"
    return _WAAGENT_CONF.format(line=line)


def agent_unit(service: str) -> str:
    return (
        "[Unit]\nDescription=Azure Linux Agent\n"
        "After=network-online.target cloud-init.service\n"
        f"\n[Service]\nType=simple\nExecStart=/usr/bin/python3 -u /usr/sbin/waagent -daemon\n"
        f"Restart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n"
        f"# unit: {service}.service\n"
    )


def agent_version_py(daemon: str) -> str:
    return (
        "# fixture: azurelinuxagent/common/version.py (excerpt)\n"
        'AGENT_NAME = "WALinuxAgent"\n'
        f"AGENT_VERSION = '{daemon}'\n"
        'AGENT_LONG_VERSION = "{0}-{1}".format(AGENT_NAME, AGENT_VERSION)\n'
    )


def daemon_main_py(daemon: str) -> str:
    """Synthetic daemon/main.py: the telemetry method at lines 120-122, its only call at 148."""
    head = [
        "# fixture shaped like azurelinuxagent/daemon/main.py of WALinuxAgent "
        f"{daemon} (not the real file)",
        "#",
        "",
        "import os",
        "import sys",
        "import time",
        "",
        "",
        "class DaemonHandler(object):",
        '    """Main thread of the daemon."""',
        "",
    ]
    lines = list(head)
    n = 0
    while len(lines) < 119:  # filler methods up to line 119
        lines += [f"    def step_{n}(self):", f"        return {n}", ""]
        n += 1
    lines = lines[:119]
    lines[-1] = ""
    lines += [
        "    def _initialize_telemetry(self):",
        "        protocol = self.protocol_util.get_protocol()",
        "        initialize_event_logger_vminfo_common_parameters(protocol)",
        "",
        "    def daemon(self, child_args=None):",
        '        logger.info("Run daemon")',
        "",
    ]
    while len(lines) < 143:
        lines.append(f"        self.step_{len(lines) % 7}()")
    lines += [
        "        self.provision_handler.run()",
        "",
        "        # Once we have the protocol, complete initialization of the telemetry fields",
        "        # that require the goal state and IMDS",
        "        self._initialize_telemetry()",
        "",
        "        while self.running:",
        "            self.update_handler.run_latest(child_args=child_args)",
    ]
    assert lines[119] == "    def _initialize_telemetry(self):"
    assert lines[147].endswith("telemetry()")
    return "\n".join(lines) + "\n"


def _rsa_public_key(bits: int, seed: str) -> str:
    """A syntactically valid ssh-rsa public key (deterministic modulus, never a real key)."""

    def mpint(value: bytes) -> bytes:
        value = b"\x00" + value if value[0] & 0x80 else value
        return len(value).to_bytes(4, "big") + value

    stream = b""
    counter = 0
    while len(stream) < bits // 8:
        stream += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    modulus = bytes([stream[0] | 0x80]) + stream[1 : bits // 8]
    blob = len(b"ssh-rsa").to_bytes(4, "big") + b"ssh-rsa" + mpint(b"\x01\x00\x01") + mpint(modulus)
    return "ssh-rsa " + b64encode(blob).decode()


def authorized_keys() -> str:
    return _rsa_public_key(3072, "azureuser") + " azureuser@workstation\n"


def bls_entry(distro: str, version: str, kernel: str) -> str:
    name = "AlmaLinux" if distro == "almalinux" else "Red Hat Enterprise Linux"
    return (
        f"title {name} ({kernel}) {version}\nversion {kernel}\nlinux /vmlinuz-{kernel}\n"
        f"initrd /initramfs-{kernel}.img $tuned_initrd\n"
        "options root=UUID=7a3c2e10-8d4f-4b1e-9c6a-2f5e8d7b4a13 ro crashkernel=1G-4G:192M "
        "console=tty1 console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300 "
        "$tuned_params\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class kernel\n"
    )


def rpm_db(distro: str, version: str, kernel: str, daemon: str) -> str:
    release = "el9" if version != "9.2" else "el9_2"
    return "".join(
        f"{name} {ver}\n"
        for name, ver in [
            ("kernel", kernel),
            ("openssl", f"3.0.7-27.{release}.x86_64"),
            ("crypto-policies-scripts", "20230731-1.git94f0e2c.el9.noarch"),
            ("WALinuxAgent", f"{daemon}-1.el9.noarch"),
            (f"{distro}-release", f"{version}-1.el9.x86_64"),
        ]
    )


def alma_repos() -> dict[str, str]:
    def repo(section: str, name: str, path: str) -> str:
        return (
            f"[{section}]\nname=AlmaLinux $releasever - {name}\n"
            f"mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/{section}\n"
            f"# baseurl=https://repo.almalinux.org/almalinux/$releasever/{path}/$basearch/os/\n"
            "enabled=1\ngpgcheck=1\ncountme=1\n"
            "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\nmetadata_expire=86400\n"
            "enabled_metadata=1\n"
        )

    return {
        "etc/yum.repos.d/almalinux-baseos.repo": repo("baseos", "BaseOS", "BaseOS"),
        "etc/yum.repos.d/almalinux-appstream.repo": repo("appstream", "AppStream", "AppStream"),
    }


UBUNTU_GRUB_CLOUDIMG = (
    "# Cloud Image specific Grub settings for Generic Cloud Images\n"
    'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"\n'
    "GRUB_TIMEOUT=0\n"
)


def ubuntu_sources(version: str) -> str:
    code = _UBUNTU_NAMES[version][0]
    return (
        f"Types: deb\nURIs: http://azure.archive.ubuntu.com/ubuntu/\n"
        f"Suites: {code} {code}-updates {code}-backports\nComponents: main universe\n"
        "Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n"
    )


def dpkg_status(kernel: str) -> str:
    def stanza(name: str, ver: str) -> str:
        return (
            f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Section: misc\nInstalled-Size: 1\nMaintainer: Ubuntu\nArchitecture: amd64\n"
            f"Version: {ver}\nDescription: fixture package\n\n"
        )

    return "".join(
        stanza(n, v)
        for n, v in [
            ("ubuntu-pro-client", "35.1ubuntu0"),
            ("walinuxagent", "2.9.1.1-0ubuntu1"),
            (f"linux-image-{kernel}", kernel),
            ("openssl", "3.0.2-0ubuntu1.19"),
        ]
    )


FLATCAR_OEM_GRUB = (
    "# Flatcar GRUB settings (fixture shaped like the Azure OEM grub.cfg)\n\n"
    'set oem_id="azure"\nset linux_append="flatcar.autologin"\n\n'
    "# Azure has only a serial console\n"
    "serial --unit=0 --speed=115200 --word=8 --parity=no\n"
    "terminal_input serial\nterminal_output serial\n"
)
FLATCAR_OPENSSL_CNF = (
    "# fixture: OpenSSL default configuration (excerpt)\n"
    "openssl_conf = openssl_init\n\n[openssl_init]\n"
    "providers = provider_sect\n\n[provider_sect]\ndefault = default_sect\n\n"
    "[default_sect]\nactivate = 1\n"
)
FLATCAR_FIPSMODULE_CNF = (
    "[fips_sect]\nactivate = 1\ninstall-version = 1\n"
    "conditional-errors = 1\nsecurity-checks = 1\n"
    "module-mac = 00:11:22:33\ninstall-mac = 44:55:66:77\n"
    "install-status = INSTALL_SELF_TEST_KATS_RUN\n"
)


def flatcar_linux_append(grub_cfg: str) -> str:
    """The kernel arguments GRUB ends up with: `set linux_append=` lines evaluated in order."""
    value = ""
    for line in grub_cfg.splitlines():
        m = re.match(r'^\s*set\s+linux_append="(.*)"\s*$', line)
        if m:
            value = m.group(1).replace("$linux_append", value).strip()
    return value


def bls_field(path: Path, key: str) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(key + " "):
            return line[len(key) + 1 :]
    return ""


def grubenv_saved_entry(text: str) -> str:
    found = re.search(r"(?m)^saved_entry=(.*)$", text)
    return found.group(1).strip() if found else ""
