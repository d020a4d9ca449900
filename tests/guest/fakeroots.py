"""Fake roots laid out like each supported distro on Azure, built in Python (never committed).

A root holds the files the recipes read and change, at their real paths, plus the stand-in tools
(`standins.py`) and a little simulator state under /var/lib/fw-standins. `simulate_reboot` does
what a reboot does to it; `digest` fingerprints it for byte-identity checks.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from fipswizard.guest.runners import BwrapRunner

from . import distro_files as df
from .standins import LOG, STATE, install_standins

LATEST_AGENT = "2.15.0.1"
PRO_TOKEN = "C1pr0T0kenForTests9x7Q"  # what the fake contract server accepts
TUXCARE_KEY = "ESU-7f3a9c1d5e8b2a4f6c0d9e7b"  # what the fake CLN accepts


@dataclass(frozen=True)
class FakeRoot:
    path: Path
    distro: str  # os-release ID

    @property
    def fips_enabled(self) -> str:
        return (self.path / STATE / "fips-enabled").read_text(encoding="utf-8").strip()

    def runner(self) -> BwrapRunner:
        """A runner for the root as it boots now (fips_enabled from the last reboot)."""
        return BwrapRunner(self.path, fips_enabled=self.fips_enabled)

    def file(self, rel: str) -> Path:
        return self.path / rel.lstrip("/")

    def read(self, rel: str) -> str:
        return self.file(rel).read_text(encoding="utf-8")


def _write(root: Path, files: dict[str, str], mode: int = 0o644) -> None:
    for rel, text in files.items():
        path = root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)


def _state(root: Path, **values: str) -> None:
    _write(root, {f"{STATE}/{k.replace('_', '-')}": f"{v}\n" for k, v in values.items()})


def _base(
    root: Path,
    distro: str,
    kernel: str,
    *,
    service: str,
    agent_py: str,
    daemon: str,
    autoupdate: str,
    machine_id: str,
) -> None:
    for folder in ("run", "tmp", "root", "var/log", "var/lib/waagent"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "root").chmod(0o700)
    _write(
        root,
        {
            "etc/machine-id": f"{machine_id}\n",
            "etc/waagent.conf": df.waagent_conf(autoupdate),
            f"etc/systemd/system/{service}.service": df.agent_unit(service),
            f"{agent_py}/azurelinuxagent/common/version.py": df.agent_version_py(daemon),
            "home/azureuser/.ssh/authorized_keys": df.authorized_keys(),
        },
    )
    (root / "home/azureuser/.ssh/authorized_keys").chmod(0o600)
    _state(root, kernel=kernel, fips_enabled="0", wireserver_agent=LATEST_AGENT)
    install_standins(root, distro)


def rhel_root(
    root: Path,
    version: str = "9.5",
    daemon: str = "2.7.0.6",
    *,
    autoupdate: str = "n",
    distro: str = "rhel",
) -> FakeRoot:
    """RHEL 9.x on Azure: BLS boot entries, crypto policies, WALinuxAgent under python3.9."""
    kernel = df.EL_KERNELS[version]
    mid = "4f1c1a5ee0b04c6c9bd4f4f4a1d2c3b4"
    _base(
        root,
        distro,
        kernel,
        service="waagent",
        agent_py="usr/lib/python3.9/site-packages",
        daemon=daemon,
        autoupdate=autoupdate,
        machine_id=mid,
    )
    files = {
        "etc/os-release": df.os_release(distro, version),
        f"boot/loader/entries/{mid}-{kernel}.conf": df.bls_entry(distro, version, kernel),
        f"boot/vmlinuz-{kernel}": f"kernel image {kernel}\n",
        "boot/grub2/grubenv": f"# GRUB Environment Block\nsaved_entry={mid}-{kernel}\n",
        df.DAEMON_MAIN: df.daemon_main_py(daemon),
        "var/lib/rpm/fw-standin-packages": df.rpm_db(distro, version, kernel, daemon),
    }
    # As the packages install them: the policy config with its comment header, a grub default.
    files.update(df.crypto_policy_files("DEFAULT", packaged=True))
    files["etc/default/grub"] = df.DEFAULT_GRUB
    key = "RPM-GPG-KEY-AlmaLinux-9" if distro == "almalinux" else "RPM-GPG-KEY-redhat-release"
    files[f"etc/pki/rpm-gpg/{key}"] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nfixture\n"
    if distro == "almalinux":
        files.update(df.alma_repos())
    _write(root, files)
    for folder in ("etc/dnf/vars", "etc/dracut.conf.d"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    # fips-mode-setup's Ctrl-C countdown lasts 15 s; 1 s here keeps a forgetful test short.
    _state(root, boot_uuid="9d1f43a0-5c3b-4c8e-a0e4-6f2b7d9c1e55", countdown="1")
    return FakeRoot(root, distro)


def alma92_root(root: Path, daemon: str = "2.9.1.1", *, autoupdate: str = "y") -> FakeRoot:
    fake = rhel_root(root, "9.2", daemon, autoupdate=autoupdate, distro="almalinux")
    (root / STATE / "tuxcare-key.sha256").write_text(
        hashlib.sha256(TUXCARE_KEY.encode()).hexdigest() + "\n", encoding="utf-8"
    )
    return fake


def ubuntu_root(
    root: Path,
    version: str = "22.04",
    daemon: str = "2.9.1.1",
    *,
    autoupdate: str = "y",
    attached: bool = False,
    pro_image: bool = False,
) -> FakeRoot:
    """Ubuntu (Pro) on Azure: dpkg status, apt sources, walinuxagent, the pro client state."""
    kernel, fips_kernel = df.UBUNTU_KERNELS[version]
    _base(
        root,
        "ubuntu",
        kernel,
        service="walinuxagent",
        agent_py="usr/lib/python3/dist-packages",
        daemon=daemon,
        autoupdate=autoupdate,
        machine_id="0b8a7c6d5e4f40318a2b1c0d9e8f7a6b",
    )
    _write(
        root,
        {
            "etc/os-release": df.os_release("ubuntu", version),
            "etc/default/grub.d/50-cloudimg-settings.cfg": df.UBUNTU_GRUB_CLOUDIMG,
            "etc/apt/sources.list.d/ubuntu.sources": df.ubuntu_sources(version),
            f"boot/vmlinuz-{kernel}": f"kernel image {kernel}\n",
            "var/lib/dpkg/status": df.dpkg_status(kernel),
        },
    )
    for folder in ("etc/apt/preferences.d", "var/lib/ubuntu-advantage"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _state(root, fips_kernel=fips_kernel)
    (root / STATE / "pro-token.sha256").write_text(
        hashlib.sha256(PRO_TOKEN.encode()).hexdigest() + "\n", encoding="utf-8"
    )
    if pro_image:
        _state(root, pro_auto_attach="yes")
    if attached:
        token = root / "var/lib/ubuntu-advantage/private/machine-token.json"
        _write(root, {str(token.relative_to(root)): '{"machineToken": "image-token"}\n'}, 0o600)
        token.parent.chmod(0o700)
    return FakeRoot(root, "ubuntu")


def flatcar_root(
    root: Path,
    daemon: str = "2.12.0.4",
    *,
    autoupdate: str = "n",
    fipsmodule: bool = True,
    shipped_conf: bool = True,
) -> FakeRoot:
    """Flatcar on Azure: /oem/grub.cfg, /etc/os-release -> ../usr/lib/os-release, OpenSSL 3."""
    _base(
        root,
        "flatcar",
        "6.6.95-flatcar",
        service="waagent",
        agent_py="usr/lib/python3.12/site-packages",
        daemon=daemon,
        autoupdate=autoupdate,
        machine_id="6e0f1f6f3a7a4fd0b1c2d3e4f5a6b7c8",
    )
    files = {
        "usr/lib/os-release": df.os_release("flatcar", "4230.2.0"),
        "oem/grub.cfg": df.FLATCAR_OEM_GRUB,
        "etc/ssl/openssl.cnf": df.FLATCAR_OPENSSL_CNF,
        "usr/lib64/ossl-modules/fips.so": "stand-in FIPS provider module\n",
    }
    if fipsmodule:
        files["etc/ssl/fipsmodule.cnf"] = df.FLATCAR_FIPSMODULE_CNF
    _write(root, files)
    os.symlink("../usr/lib/os-release", root / "etc/os-release")
    if shipped_conf:
        # As the oem-azure sysext ships the agent's config: /etc/waagent.conf is a link into
        # read-only /usr, and /oem/waagent.conf links back to it (flatcar/scripts coreos-overlay
        # coreos-base/oem-azure; reference guest-os.md 4.6).
        conf = root / "etc/waagent.conf"
        shipped = root / "usr/share/waagent/waagent.conf"
        shipped.parent.mkdir(parents=True, exist_ok=True)
        shipped.write_text(conf.read_text(encoding="utf-8"), encoding="utf-8")
        conf.unlink()
        os.symlink("../usr/share/waagent/waagent.conf", conf)
        os.symlink("/etc/waagent.conf", root / "oem/waagent.conf")
    return FakeRoot(root, "flatcar")


# --------------------------------------------------------------------------- reboot, digest


def simulate_reboot(fake: FakeRoot) -> str:
    """What a reboot does to the fake root; returns the new fips_enabled ("0" or "1")."""
    root, state = fake.path, fake.path / STATE
    kernel = (state / "kernel").read_text(encoding="utf-8").strip()
    if fake.distro == "ubuntu":
        nxt = state / "kernel-next"
        kernel = nxt.read_text(encoding="utf-8").strip() if nxt.exists() else kernel
        fips = (
            "fips=1" in (root / "etc/default/grub.d/99-fips.cfg").read_text(encoding="utf-8")
            if (root / "etc/default/grub.d/99-fips.cfg").exists()
            else False
        )
        notices = root / "var/lib/ubuntu-advantage/notices"
        shutil.rmtree(notices, ignore_errors=True)  # pro's reboot commands clear them
        args = "ro console=tty1 console=ttyS0" + (" fips=1" if fips else "")
    elif fake.distro == "flatcar":
        args = df.flatcar_linux_append(fake.read("oem/grub.cfg"))
        fips = "fips=1" in args.split()
    else:  # BLS: grubenv's saved_entry boots
        saved = df.grubenv_saved_entry(fake.read("boot/grub2/grubenv"))
        entry = root / "boot/loader/entries" / f"{saved}.conf"
        kernel = df.bls_field(entry, "version")
        args = df.bls_field(entry, "options")
        fips = "fips=1" in args.split()
    (state / "kernel").write_text(kernel + "\n", encoding="utf-8")
    (state / "fips-enabled").write_text(("1" if fips else "0") + "\n", encoding="utf-8")
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc/cmdline").write_text(f"BOOT_IMAGE=/vmlinuz-{kernel} {args}\n", encoding="utf-8")
    for entry in (root / "run").iterdir():  # /run is a tmpfs
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return "1" if fips else "0"


def digest(root: Path, *, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Path -> fingerprint (type, mode, sha256 of bytes or link target) for the whole root,
    except the stand-in call log and any `exclude` prefixes."""
    skip = (LOG, *exclude)
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if any(rel == s or rel.startswith(s.rstrip("/") + "/") for s in skip):
                continue
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = f"link:{os.readlink(path)}"
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = f"dir:{stat.S_IMODE(st.st_mode):o}"
            else:
                data = path.read_bytes()
                out[rel] = f"file:{stat.S_IMODE(st.st_mode):o}:{hashlib.sha256(data).hexdigest()}"
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Paths added, removed or different between two digests."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def files_containing(root: Path, needle: str) -> list[str]:
    """Every file under root whose bytes contain `needle` (secret hunting)."""
    hits = []
    data = needle.encode()
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and data in path.read_bytes():
            hits.append(str(path.relative_to(root)))
    return sorted(hits)
