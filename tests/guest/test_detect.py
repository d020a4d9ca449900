"""Detection: os-release samples -> recipe or reason; the probe, its parser, local reading."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from fipswizard.guest.detect import (
    PROBE_SCRIPT,
    GuestFacts,
    NoRecipe,
    SshKey,
    key_from_line,
    local_facts,
    parse_probe,
    select_recipe,
)
from fipswizard.guest.recipes import all_guest_recipes, recipe_dir
from fipswizard.guest.runners import BwrapRunner, bwrap_problem

from .osrelease_samples import KEYS, OS_RELEASE, make_root

# Minimal recipes of our own, so the table does not depend on the packaged recipes' content.
_RECIPES = {
    "ubuntu": (
        'supported = "Ubuntu 22.04 and 24.04 with Ubuntu Pro"',
        [("ubuntu", "==22.04"), ("ubuntu", "==24.04")],
    ),
    "rhel9": ('supported = "RHEL 9.x"', [("rhel", ">=9.0,<10")]),
    "alma92-tuxcare": ('supported = "AlmaLinux 9.2 (TuxCare ESU)"', [("almalinux", "==9.2")]),
    "flatcar": ('supported = "Flatcar >= 3185"', [("flatcar", ">=3185")]),
}
EXPECTED = {
    "ubuntu-22.04": "ubuntu",
    "ubuntu-24.04": "ubuntu",
    "rhel-9.4": "rhel9",
    "rhel-9.5": "rhel9",
    "rhel-9.6": "rhel9",
    "alma-9.2": "alma92-tuxcare",
    "flatcar": "flatcar",
}
REASONS = {  # sample -> words the NoRecipe reason must contain
    "rhel-10": ["Red Hat does not support", "fips=1", "reinstall"],
    "alma-9.6": ["AlmaLinux 9.6", "not supported", "AlmaLinux 9.2 (TuxCare ESU)", "RHEL 9.x"],
    "azurelinux-3": ["Azure Linux", "SymCrypt", "azure-linux-3-gen2-fips"],
    "centos-7": ["CentOS Linux 7", "end of life", "not supported", "Ubuntu 22.04 and 24.04"],
    "debian-12": ["Debian GNU/Linux 12", "not supported", "Flatcar >= 3185", "RHEL 9.x"],
}


@pytest.fixture(scope="module")
def own_recipes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recipes")
    (folder / "lib.sh").write_text("set -u\n")
    for rid, (supported, matches) in _RECIPES.items():
        text = f'id = "{rid}"\ntitle = "{rid}"\n{supported}\n'
        for os_id, spec in matches:
            text += f'\n[[match]]\nid = "{os_id}"\nversion = "{spec}"\n'
        text += '\n[[step]]\nid = "s"\ntitle = "s"\nrisk = "reversible"\ncheck = "true"\n'
        text += 'apply = "true"\n'
        (folder / f"{rid}.toml").write_text(text)
    return folder


@pytest.mark.parametrize("sample", sorted(OS_RELEASE))
def test_detection_table(sample: str, own_recipes: Path, tmp_path: Path) -> None:
    facts = local_facts(make_root(tmp_path, sample))
    recipes = all_guest_recipes(base=own_recipes)
    if sample in EXPECTED:
        assert select_recipe(facts, recipes).id == EXPECTED[sample]
        return
    with pytest.raises(NoRecipe) as err:
        select_recipe(facts, recipes)
    for words in REASONS[sample]:
        assert words in err.value.reason, (sample, err.value.reason)


def test_flatcar_os_release_symlink_is_read(tmp_path: Path) -> None:
    facts = local_facts(make_root(tmp_path, "flatcar"))
    assert (facts.os_id, facts.os_version, facts.os_like) == ("flatcar", "4230.2.0", "coreos")


@pytest.mark.skipif(not any(recipe_dir().iterdir()), reason="no packaged guest recipes yet")
@pytest.mark.parametrize("sample", sorted(OS_RELEASE))
def test_detection_with_packaged_recipes(sample: str, tmp_path: Path) -> None:
    facts = local_facts(make_root(tmp_path, sample))
    if sample in EXPECTED:
        assert select_recipe(facts).id == EXPECTED[sample]
    else:
        with pytest.raises(NoRecipe) as err:
            select_recipe(facts)
        assert facts.os_version in err.value.reason
        if sample != "rhel-10" and sample != "azurelinux-3":
            assert "Supported:" in err.value.reason and "RHEL 9" in err.value.reason


SAMPLE_PROBE = """probe=1
os_id=rhel
os_version=9.5
os_pretty=Red Hat Enterprise Linux 9.5 (Plow)
os_like=fedora
kernel=5.14.0-503.11.1.el9_5.x86_64
cmdline_fips=1
fips_enabled=0
crypto_policy=FIPS
agent_daemon=2.7.0.6
agent_goal_state=2.14.0.1
autoupdate_enabled=y
autoupdate_latest=
sshd_ciphers=aes256-gcm@openssh.com,chacha20-poly1305@openssh.com
ssh_keys=root:rsa:3072 azureuser:ed25519:256 bob:ssh-foo:?
secure_boot=enabled
luks_pbkdf=argon2id,pbkdf2
fms_is_enabled=1
fms_check=1
"""


def test_parse_probe_and_round_trip() -> None:
    facts = parse_probe(SAMPLE_PROBE)
    assert facts.complete and facts.source == "probe"
    assert (facts.os_id, facts.os_version, facts.fips_enabled) == ("rhel", "9.5", "0")
    assert facts.cmdline_fips == "1" and facts.crypto_policy == "FIPS"
    assert (facts.agent_daemon, facts.agent_goal_state) == ("2.7.0.6", "2.14.0.1")
    assert facts.autoupdate_latest is None and facts.autoupdate_on
    assert facts.sshd_ciphers == ("aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com")
    assert facts.ssh_keys == (
        SshKey("root", "rsa", 3072),
        SshKey("azureuser", "ed25519", 256),
        SshKey("bob", "ssh-foo", None),
    )
    assert facts.luks_pbkdf == ("argon2id", "pbkdf2") and facts.secure_boot == "enabled"
    assert facts.pro_attached is None and facts.fms_is_enabled == 1
    assert facts.fips_state == "pending-reboot" and facts.rhel_family
    data = json.loads(json.dumps(facts.to_dict()))
    assert data["fips_state"] == "pending-reboot"
    assert GuestFacts.from_dict(data) == facts


def test_parse_probe_cut_output_and_absent_values() -> None:
    facts = parse_probe("fips_enabled=absent\ncmdline_fips=absent\nluks_pbkdf=\n")
    assert not facts.complete
    assert facts.fips_enabled is None and facts.cmdline_fips is None
    assert facts.luks_pbkdf == () and facts.fips_state == "unknown"
    assert parse_probe("").luks_pbkdf is None


def test_autoupdate_needs_both_switches_like_the_agent_step() -> None:
    # UpdateToLatestVersion defaults to AutoUpdate.Enabled; the daemon only runs a newer
    # goal-state agent with AutoUpdate.Enabled on, so either switch off keeps the old agent
    # (the same rule as recipes/guest/agent.toml).
    assert not GuestFacts(autoupdate_enabled="y", autoupdate_latest="n").autoupdate_on
    assert not GuestFacts(autoupdate_enabled="n", autoupdate_latest="y").autoupdate_on
    assert not GuestFacts(autoupdate_enabled="n").autoupdate_on
    assert GuestFacts().autoupdate_on
    assert GuestFacts(autoupdate_enabled="yes").autoupdate_on  # neither y nor n: the default


@pytest.mark.parametrize(
    ("name", "kind", "bits"),
    [
        ("ed25519", "ed25519", 256),
        ("rsa1024", "rsa", 1024),
        ("rsa2048", "rsa", 2048),
        ("rsa3072", "rsa", 3072),
        ("ecdsa256", "ecdsa", 256),
        ("dsa", "dsa", 1024),
    ],
)
def test_key_from_line(name: str, kind: str, bits: int) -> None:
    line = f'no-pty,command="echo (x) ssh-rsa" {KEYS[name]} me@host'
    assert key_from_line(line, "u") == SshKey("u", kind, bits)


PRO_JSON = json.dumps(
    {
        "attached": True,
        "execution_status": "inactive",
        "services": [
            {"name": "esm-infra", "status": "enabled", "entitled": "yes"},
            {"name": "fips-updates", "status": "disabled", "entitled": "yes"},
        ],
    }
)

STANDINS = {
    "waagent": 'echo "WALinuxAgent-2.7.0.6 running on redhat 9.5"; echo "Python: 3.9.21"\n'
    'echo "Goal state agent: 2.12.0.4"',
    "sshd": '[ "$1" = -T ] && printf "port 22\\nciphers chacha20-poly1305@openssh.com,'
    'aes128-ctr\\nmacs hmac-sha2-256\\n"',
    "mokutil": 'echo "SecureBoot enabled"',
    "blkid": "echo /dev/sdc",
    "cryptsetup": 'printf "LUKS header information\\nVersion:       2\\nKeyslots:\\n  0: luks2\\n'
    '\\tPBKDF:      argon2id\\n"',
    "pro": f"echo '{PRO_JSON}'",
    "fips-mode-setup": 'case "$1" in --is-enabled) exit 2;; --check) exit 0;; esac',
}


def _probe_root(tmp_path: Path, **extra: str) -> Path:
    keys = f'no-pty,from="10.0.0.0/8" {KEYS["rsa3072"]} root@a\n# x\n{KEYS["ed25519"]} root@b\n'
    files = {
        "etc/waagent.conf": "# AutoUpdate.Enabled=y\nAutoUpdate.Enabled=n\n",
        "etc/crypto-policies/config": "# comment\nDEFAULT\n",
        "root/.ssh/authorized_keys": keys,
        "home/azureuser/.ssh/authorized_keys": f"{KEYS['rsa1024']} a\n{KEYS['ecdsa256']} b\n",
        "proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/sda1 fips=0 ro\n",
    }
    return make_root(tmp_path, "rhel-9.5", files, {**STANDINS, **extra})


bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))


@bwrap
def test_probe_runs_in_bwrap_fake_root(tmp_path: Path) -> None:
    root = _probe_root(tmp_path)
    result = asyncio.run(BwrapRunner(root, fips_enabled="1").run(PROBE_SCRIPT, timeout=60))
    assert result.rc == 0, result.stderr
    assert len(result.stdout.encode()) < 4096
    facts = parse_probe(result.stdout)
    assert facts.complete and facts.os_id == "rhel" and facts.os_version == "9.5"
    assert facts.fips_enabled == "1" and facts.cmdline_fips == "0"
    assert facts.crypto_policy == "DEFAULT"
    assert (facts.agent_daemon, facts.agent_goal_state) == ("2.7.0.6", "2.12.0.4")
    assert facts.autoupdate_enabled == "n" and not facts.autoupdate_on
    assert facts.sshd_ciphers == ("chacha20-poly1305@openssh.com", "aes128-ctr")
    assert sorted(facts.ssh_keys, key=repr) == sorted(
        [
            SshKey("root", "rsa", 3072),
            SshKey("root", "ed25519", 256),
            SshKey("azureuser", "rsa", 1024),
            SshKey("azureuser", "ecdsa", 256),
        ],
        key=repr,
    )
    assert facts.secure_boot == "enabled" and facts.luks_pbkdf == ("argon2id",)
    assert facts.pro_attached is True and facts.pro_fips_updates == "disabled"
    assert facts.pro_fips_entitled == "yes" and facts.pro_execution == "inactive"
    assert (facts.fms_is_enabled, facts.fms_check) == (2, 0)


@bwrap
def test_probe_key_sizes_without_ssh_keygen(tmp_path: Path) -> None:
    # An ssh-keygen that prints nothing: the probe must size keys from the key text itself.
    root = _probe_root(tmp_path, **{"ssh-keygen": "exit 1"})
    result = asyncio.run(BwrapRunner(root).run(PROBE_SCRIPT, timeout=60))
    keys = parse_probe(result.stdout).ssh_keys
    assert set(keys) == {
        SshKey("root", "rsa", 3072),
        SshKey("root", "ed25519", 256),
        SshKey("azureuser", "rsa", 1024),
        SshKey("azureuser", "ecdsa", 256),
    }


@bwrap
def test_probe_output_stays_under_4k_with_many_keys(tmp_path: Path) -> None:
    many = "".join(f"{KEYS['rsa2048']} k{i}\n" for i in range(80))
    root = _probe_root(tmp_path)
    for user in ("alice", "bob", "carol"):
        path = root / f"home/{user}/.ssh/authorized_keys"
        path.parent.mkdir(parents=True)
        path.write_text(many)
    result = asyncio.run(BwrapRunner(root).run(PROBE_SCRIPT, timeout=60))
    assert len(result.stdout.encode()) < 4096
    assert len(parse_probe(result.stdout).ssh_keys) == 40


@bwrap
@pytest.mark.parametrize(("registered", "expected"), [(True, True), (False, False)])
def test_probe_reads_tuxcare_registration_and_never_its_token(
    tmp_path: Path, registered: bool, expected: bool
) -> None:
    # TuxCare's README: `tuxctl -v` exits 0 with "Server is registered with token <TOKEN>", or
    # 1 with "Server is not registered".
    said = (
        'echo "Server is registered with token TUXCARE-TOKEN-777"; exit 0'
        if registered
        else 'echo "Server is not registered"; exit 1'
    )
    root = make_root(tmp_path, "alma-9.2", {"usr/bin/tuxctl": f"#!/bin/sh\n{said}\n"})
    (root / "usr/bin/tuxctl").chmod(0o755)
    result = asyncio.run(BwrapRunner(root).run(PROBE_SCRIPT, timeout=60))
    assert result.rc == 0, result.stderr
    assert "TUXCARE-TOKEN-777" not in result.stdout + result.stderr
    assert parse_probe(result.stdout).tuxcare_registered is expected


@bwrap
def test_probe_lists_crypto_package_versions(tmp_path: Path) -> None:
    # rpm -q --qf prints one NAME=VERSION-RELEASE line per package, and "package X is not
    # installed" for one that is missing (rpm's own wording), which the probe drops.
    rpm = (
        "#!/bin/sh\n"
        'echo "openssl-libs=3.0.7-27.el9"\n'
        'echo "package gnutls is not installed"\n'
        'echo "kernel-core=5.14.0-503.11.1.el9_5"\n'
    )
    root = make_root(tmp_path, "rhel-9.5", {"usr/bin/rpm": rpm})
    (root / "usr/bin/rpm").chmod(0o755)
    result = asyncio.run(BwrapRunner(root).run(PROBE_SCRIPT, timeout=60))
    assert result.rc == 0, result.stderr
    packages = parse_probe(result.stdout).packages or ()
    assert "openssl-libs=3.0.7-27.el9" in packages
    assert not any("not installed" in p for p in packages), packages


def test_no_tuxctl_means_no_tuxcare_fact() -> None:
    assert parse_probe("os_id=almalinux\nos_version=9.2\n").tuxcare_registered is None


def test_local_facts_reads_files(tmp_path: Path) -> None:
    site = "usr/lib/python3.9/site-packages/azurelinuxagent/common/version.py"
    status = json.dumps({"attached": False, "services": [{"name": "fips-updates"}]})
    root = make_root(
        tmp_path,
        "ubuntu-22.04",
        {
            site: "AGENT_NAME = 'WALinuxAgent'\nAGENT_VERSION = '2.9.1.1'\n",
            "var/lib/waagent/WALinuxAgent-2.15.0.1/HandlerManifest.json": "{}",
            "var/lib/waagent/WALinuxAgent-2.14.0.1/HandlerManifest.json": "{}",
            "etc/waagent.conf": "AutoUpdate.UpdateToLatestVersion=n # pinned\n",
            "etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nCiphers aes128-ctr\n",
            "etc/ssh/sshd_config.d/10-a.conf": (
                "# Ciphers x\nciphers chacha20-poly1305@openssh.com\n"
            ),
            "var/lib/ubuntu-advantage/status.json": status,
            "proc/sys/crypto/fips_enabled": "0\n",
            "proc/cmdline": "root=/dev/sda1 fips=1\n",
            "home/azureuser/.ssh/authorized_keys": f"# old key\n{KEYS['dsa']} x\n",
        },
    )
    efivar = root / "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e98c0130aab6"
    efivar.parent.mkdir(parents=True)
    efivar.write_bytes(bytes([6, 0, 0, 0, 1]))
    facts = local_facts(root)
    assert facts.source == "local" and facts.os_id == "ubuntu" and facts.os_version == "22.04"
    assert facts.os_pretty == "Ubuntu 22.04.5 LTS"
    assert (facts.agent_daemon, facts.agent_goal_state) == ("2.9.1.1", "2.15.0.1")
    assert facts.autoupdate_latest == "n" and not facts.autoupdate_on
    assert facts.sshd_ciphers == ("chacha20-poly1305@openssh.com",)  # first one sshd reads wins
    assert facts.pro_attached is False and facts.pro_fips_updates is None
    assert facts.fips_enabled == "0" and facts.cmdline_fips == "1"
    assert facts.ssh_keys == (SshKey("azureuser", "dsa", 1024),)
    assert facts.secure_boot == "enabled"
    assert facts.luks_pbkdf is None  # cannot be known from files


def test_probe_script_is_valid_bash() -> None:
    import subprocess

    done = subprocess.run(
        ["bash", "-n"], input=PROBE_SCRIPT, text=True, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert PROBE_SCRIPT.startswith("# fipswizard-script: engine/probe/check\n")
    assert os.linesep == "\n"


# ------------------------------------------------------------------- fipswizard check --local


def test_check_local_on_a_root_text_and_json(tmp_path: Path) -> None:
    import io

    from fipswizard.errors import BadInput
    from fipswizard.headless.check import run_check

    root = make_root(
        tmp_path,
        "rhel-9.5",
        {
            "etc/waagent.conf": "AutoUpdate.Enabled=n\n",
            "etc/crypto-policies/config": "DEFAULT\n",
            "proc/sys/crypto/fips_enabled": "0\n",
            "usr/lib/python3.9/site-packages/azurelinuxagent/common/version.py": (
                "AGENT_VERSION = '2.7.0.6'\n"
            ),
            "home/azureuser/.ssh/authorized_keys": f"{KEYS['ed25519']} me\n",
        },
    )
    before = sorted(str(p) for p in root.rglob("*"))
    out = io.StringIO()
    rc = run_check(root, "json", out)
    report = json.loads(out.getvalue())
    assert rc == 1 and report["ok"] is False  # the ed25519-only user is a refusal
    assert report["distro"]["id"] == "rhel" and report["source"] == "local"
    assert report["fips"]["state"] == "disabled" and report["fips"]["crypto_policy"] == "DEFAULT"
    assert report["agent"]["daemon"] == "2.7.0.6" and report["agent"]["autoupdate_on"] is False
    codes = {(f["level"], f["code"]) for f in report["findings"]}
    assert {
        ("refusal", "ssh-keys"),
        ("warning", "agent-version"),
        ("warning", "agent-2.7.0.6"),
    } <= codes
    if any(recipe_dir().iterdir()):
        assert report["recipe"]["id"] == "rhel9" and report["no_recipe_reason"] is None
    text = io.StringIO()
    assert run_check(root, "text", text) == 1
    shown = text.getvalue()
    assert "distro:      Red Hat Enterprise Linux 9.5 (Plow)" in shown
    assert "agent:       daemon 2.7.0.6, goal-state 2.7.0.6" in shown
    assert "refusal [ssh-keys]" in shown and "auto-update: off" in shown
    assert sorted(str(p) for p in root.rglob("*")) == before  # read-only
    with pytest.raises(BadInput):
        run_check(root, "yaml", io.StringIO())


def test_check_local_reports_why_no_recipe(tmp_path: Path) -> None:
    import io

    from fipswizard.headless.check import run_check

    out = io.StringIO()
    assert run_check(make_root(tmp_path, "rhel-10"), "json", out) == 1
    report = json.loads(out.getvalue())
    assert report["recipe"] is None and "Red Hat does not support" in report["no_recipe_reason"]


def test_check_local_on_this_machine_runs_the_probe() -> None:
    import io

    from fipswizard.headless.check import run_check

    out = io.StringIO()
    run_check(None, "json", out)
    report = json.loads(out.getvalue())
    assert report["distro"]["id"] and report["source"] in ("probe", "local")
