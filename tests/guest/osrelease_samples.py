"""Fixture data for the guest-core tests: os-release samples, SSH public keys, tiny fake roots.

The os-release texts follow the vendors' published files (python-distro samples where they
exist; see reference guest-os.md section 9). The keys are throwaway public keys.
"""

from __future__ import annotations

import os
from pathlib import Path

OS_RELEASE = {
    "ubuntu-22.04": """PRETTY_NAME="Ubuntu 22.04.5 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.5 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
""",
    "ubuntu-24.04": """PRETTY_NAME="Ubuntu 24.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.3 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
""",
    "rhel-9.4": """NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
""",
    "rhel-9.5": """NAME="Red Hat Enterprise Linux"
VERSION="9.5 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.5"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.5 (Plow)"
""",
    "rhel-9.6": """NAME="Red Hat Enterprise Linux"
VERSION="9.6 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.6"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.6 (Plow)"
""",
    "rhel-10": """NAME="Red Hat Enterprise Linux"
VERSION="10.0 (Coughlan)"
ID="rhel"
ID_LIKE="centos fedora"
VERSION_ID="10.0"
PLATFORM_ID="platform:el10"
PRETTY_NAME="Red Hat Enterprise Linux 10.0 (Coughlan)"
""",
    "alma-9.2": """NAME="AlmaLinux"
VERSION="9.2 (Turquoise Kodkod)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.2 (Turquoise Kodkod)"
""",
    "alma-9.6": """NAME="AlmaLinux"
VERSION="9.6 (Sage Margay)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.6"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.6 (Sage Margay)"
""",
    "flatcar": """NAME="Flatcar Container Linux by Kinvolk"
ID=flatcar
ID_LIKE=coreos
VERSION=4230.2.0
VERSION_ID=4230.2.0
BUILD_ID=2025-06-10-1808
SYSEXT_LEVEL=1.0
PRETTY_NAME="Flatcar Container Linux by Kinvolk 4230.2.0 (Oklo)"
HOME_URL="https://flatcar.org/"
""",
    "azurelinux-3": """NAME="Microsoft Azure Linux"
VERSION="3.0.20250402"
ID=azurelinux
VERSION_ID="3.0"
PRETTY_NAME="Microsoft Azure Linux 3.0"
HOME_URL="https://aka.ms/azurelinux"
""",
    "centos-7": """NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
CPE_NAME="cpe:/o:centos:centos:7"
""",
    "debian-12": """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
""",
}

# Public halves of throwaway keys (type, size): used to test key type and RSA size detection.
KEYS = {
    "ed25519": ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGCoCyqKvekZNLPPmKS/dw+MZAI6N4Vd9zyQxLjtyk+F"),
    "rsa1024": (
        "ssh-rsa "
        "AAAAB3NzaC1yc2EAAAADAQABAAAAgQC5go8TDePWFf/Bv9eUmZwEYUEpvuGq1p11iRNkFLu9fKY2glRP"
        "3opiWjMhgjCaHP4+ENNmwdbp8U54SBW4sltIqLYHemIHPH6nYexnyTnM3DUsfiEgJfHioWG1kuaKR+up"
        "edjrc43kECSYYmIK4De39C3TgsScQph/BUmi9zy2sw=="
    ),
    "rsa2048": (
        "ssh-rsa "
        "AAAAB3NzaC1yc2EAAAADAQABAAABAQDMAHnQwBo7gtxXyS9KALSr5DA8jHX6bMEHQS+U3l0wOJVn+5Nq"
        "t56oApkv9BfyaYvAxtr9LhRhkK55bOT9R7gcIS/2vTz89lgPBa+yTIkjdih9m4QuiBvnS9TitNhUyXw3"
        "YEso9iMnL80VUGtWHRlPYA+aNMEqdBwX/4Xqc1LS9y2aVzG6156Dye8qVm9S5eZE9OX/2CvcHJAMF+Mp"
        "QUryt3kbvldMLnDnYXJZMZjpQQntQ0pz2ioqNHWSWQljp2QcM+NTTvoR4d2+2Gef1Dr5IHZ4iiUj6Njg"
        "pXu76kUrTOCqAwGk4fwwTxKKEtH9dkh2HrzS7v9FWcCGTPnz3rul"
    ),
    "rsa3072": (
        "ssh-rsa "
        "AAAAB3NzaC1yc2EAAAADAQABAAABgQC6fBUsRW97SCWDUkkSNJe0eRLqLkCo15PSzWmbXgc8aiZcOxlX"
        "nrlfENL5zmASun/NxMTe6y+6ak6Wb+KH/Qu9ZFHh0Pk61QhbCZ/envBYzPuswBBiV7PyAR2SiVo+UfPF"
        "xgI8+vHnA533wbesj0/mxnwNEzShSSZlQ3uBLbnZvwdIKnerumHQyKnrPARSMVCIFQeRVgumm9Y2RNGM"
        "X4I/+xp2ZiuA9l6WPkf3AMHsH68k2Oqp7+V6OKukAEChtj95QIsnSwpvOomb1ScN0uJTLLy1tXW+PEIK"
        "/P0hGg8mb8tg4fuHxS9TJlZfZFeORaUfNWW0vUSlIVym3BdIHL5I5rFzDNV2Gp/mx0Pz0ZQlakngq4Zl"
        "ljEkOQ6d3t9FW4cLPORYYrIk7fg0iKOFNYDIGgcx2SEKxjHR8NUeNnj5Ou4sLMeFN203TIjPuX9TQL1i"
        "1taSjCnutcWSV0rEWoQ7SIf7XvVFPS7U0PASYNpFhf9XDo3ylWmDj8bkEGS4wDs="
    ),
    "ecdsa256": (
        "ecdsa-sha2-nistp256 "
        "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBADDSwDU8FeVuWKErDa+I8GTUzXg"
        "umTvl/bqmpkFeUN452bXAjH42KFyQxzaPmX1mzw6mrMo/59sM+7aFEdYvp0="
    ),
    "dsa": (
        "ssh-dss "
        "AAAAB3NzaC1kc3MAAACBAPVfUtbqMJWSrGYqKdAr7RlXauwMG4aL1K9ez9tagTSihcxOdFECrFgeFzAq"
        "NaXk/IoHKs8uPkQlG31v0xQTYIwV7xb6iJ+oAnZMBt2mTie1TeqnIE9JLUUsEEljh+ynYO1vwVYEKnew"
        "C1uD5y5RyGV4IXlAY+7m34hvFDgGUVjPAAAAFQCvWFKrZ50yvk9HWCw+DtzSOFGRsQAAAIAs2+H6WJYo"
        "KNFQiI1nT6q158ZQ5G3sL+KcEG2U4GRiVZUZNIkDVDxO8KZObc/BALOgBJjBP+qWxCi9OP6KOaBNDlZ7"
        "6GCfZJinICMfCTg2uPt6lnFF+IvKYqts9wiOA+yP17Iwsk8BWaRg5HJhxTcFmNGlS1US3/ZD8SdTV0AV"
        "JAAAAIB18nQShWZypRuk/2ySxJQ9wQy6LrttQ8osG4v8D8/WIGH3sjX6/bMRy+mpNou9zH5z8dJKptYc"
        "k2SQ79s3YXlR45ztfPDVVq877fpsBao7mFXDAJ6PHAXyW3Ug32ANDh8X3RNawwI2N47718Vwrn50bL3g"
        "oCazauQUimOBVMd4bw=="
    ),
}


def make_root(
    base: Path,
    sample: str,
    files: dict[str, str] | None = None,
    standins: dict[str, str] | None = None,
) -> Path:
    """A tiny fake root: os-release (Flatcar-style symlink for flatcar), files, stand-in tools."""
    root = base / f"root-{sample}"
    root.mkdir(parents=True)
    (root / "etc").mkdir()
    if sample == "flatcar":
        (root / "usr/lib").mkdir(parents=True)
        (root / "usr/lib/os-release").write_text(OS_RELEASE[sample])
        os.symlink("../usr/lib/os-release", root / "etc/os-release")
    else:
        (root / "etc/os-release").write_text(OS_RELEASE[sample])
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name, body in (standins or {}).items():
        tool = root / "opt/fw-standins" / name
        tool.parent.mkdir(parents=True, exist_ok=True)
        tool.write_text("#!/bin/bash\n" + body + "\n")
        tool.chmod(0o755)
    return root
