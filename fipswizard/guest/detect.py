"""What the guest is: one read-only probe script, its parser, local reading, recipe selection.

The probe prints `key=value` lines (well under Run Command's 4 KB). Its marker line is
`# fipswizard-script: engine/probe/check` so the simulated guests can answer it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from fipswizard.errors import FipsWizardError
from fipswizard.guest.protocol import marker, parse_facts
from fipswizard.guest.recipes import GuestRecipe, all_guest_recipes

PROBE_SCRIPT = (
    marker("engine/probe/check")
    + r"""
# Read-only: facts for detection and preflight, one key=value per line.
export LC_ALL=C PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"
kv() { printf '%s=%s\n' "$1" "$(printf '%s' "$2" | tr -d '\r' | tr '\n' ' ' | cut -c1-200)"; }
has() { command -v "$1" >/dev/null 2>&1; }
echo probe=1
o=/etc/os-release; [ -r "$o" ] || o=/usr/lib/os-release
osv() { sed -n "s/^$1=//p" "$o" 2>/dev/null | tail -n 1 | sed 's/^"\(.*\)"$/\1/'; }
kv os_id "$(osv ID)"; kv os_version "$(osv VERSION_ID)"
kv os_pretty "$(osv PRETTY_NAME)"; kv os_like "$(osv ID_LIKE)"
kv kernel "$(uname -r)"
f=absent; for w in $(cat /proc/cmdline 2>/dev/null); do case $w in fips=*) f=${w#fips=};; esac; done
kv cmdline_fips "$f"
kv fips_enabled "$(cat /proc/sys/crypto/fips_enabled 2>/dev/null || echo absent)"
cp=/etc/crypto-policies/config
# update-crypto-policies' reading: comments and blank lines skipped (the packaged file names
# the policy on line 18, after its comment header).
[ -r $cp ] && kv crypto_policy "$(sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' \
  $cp | grep -m 1 -v '^$')"
if has waagent; then
  v=$(timeout 60 waagent --version 2>/dev/null)
  ver() { printf '%s\n' "$v" | sed -n "s/^$1 *\([0-9][0-9.]*\).*/\1/p" | head -n 1; }
  kv agent_daemon "$(ver WALinuxAgent-)"; kv agent_goal_state "$(ver 'Goal state agent:')"
fi
# waagent.conf as the agent reads it (azurelinuxagent/common/conf.py): '#' in column 1 only,
# key stripped, value cut at '#' and stripped of quotes and blanks, the last line wins.
auto() { awk -v k="AutoUpdate.$1" 'substr($0, 1, 1) != "#" && (e = index($0, "=")) {
  key = substr($0, 1, e - 1); gsub(/^[ \t\r]+|[ \t\r]+$/, "", key); if (key != k) next
  v = substr($0, e + 1); sub(/#.*/, "", v); gsub(/^[" ]+|[" ]+$/, "", v)
  gsub(/^[ \t\r]+|[ \t\r]+$/, "", v); val = v } END { print val }' /etc/waagent.conf 2>/dev/null; }
kv autoupdate_enabled "$(auto Enabled)"; kv autoupdate_latest "$(auto UpdateToLatestVersion)"
has sshd && kv sshd_ciphers "$(timeout 30 sshd -T 2>/dev/null | sed -n 's/^ciphers //p')"
# A Ciphers line of the admin's own overrides the crypto-policies back-end on RHEL.
x=no; grep -qiE '^[[:space:]]*ciphers[[:space:]]' /etc/ssh/sshd_config \
  /etc/ssh/sshd_config.d/*.conf 2>/dev/null && x=yes; kv sshd_ciphers_explicit "$x"
plain() {  # type and size from the key text (RSA modulus size decoded from the blob)
  awk -v u="$2" -v t='^(ssh-[a-z0-9]+|ecdsa-sha2-nistp[0-9]+|sk-[a-z0-9@.-]+)$' \
    '{for(i=1;i<NF;i++) if($i~t && $(i+1)~/^AAAA/){print u,$i,$(i+1); break}}' "$1" |
  while read -r u t b; do case $t in
    ssh-rsa) n=$(printf '%s' "$b" | base64 -d 2>/dev/null | od -An -v -tu1 | awk '
      function l(p){return ((b[p]*256+b[p+1])*256+b[p+2])*256+b[p+3]}
      {for(i=1;i<=NF;i++) b[n++]=$i}
      END{p=4+l(0); p+=4+l(p); m=l(p); q=p+4; while(m>0&&b[q]==0){q++;m--}
          if(m<=0||m>2048){print "?"; exit}; x=b[q]; s=m*8; while(x<128){x*=2;s--}; print s}')
      echo "$u:rsa:$n";;
    ssh-ed25519) echo "$u:ed25519:256";; ssh-dss) echo "$u:dsa:1024";;
    ecdsa-sha2-nistp*) echo "$u:ecdsa:${t#ecdsa-sha2-nistp}";;
    sk-ssh-ed25519*) echo "$u:ed25519-sk:256";; sk-ecdsa*) echo "$u:ecdsa-sk:256";;
    *) echo "$u:$t:?";; esac; done
}
keys=$(for a in /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys; do
  [ -r "$a" ] || continue
  u=${a#/home/}; u=${u%%/*}; case $a in /root/*) u=root;; esac
  p=$(plain "$a" "$u")
  k=$(has ssh-keygen && ssh-keygen -lf "$a" 2>/dev/null |
      sed -n "s/^\([0-9]*\) .*(\([A-Z0-9-]*\))\$/$u:\2:\1/p" | tr 'A-Z' 'a-z')
  # ssh-keygen is authoritative unless it skipped keys (e.g. ed25519 under FIPS)
  if [ -n "$k" ] && [ "$(printf '%s\n' "$k" | wc -l)" = "$(printf '%s\n' "$p" | wc -l)" ]; then
    printf '%s\n' "$k"; else [ -n "$p" ] && printf '%s\n' "$p"; fi
done | head -n 40 | tr '\n' ' ')
echo "ssh_keys=$keys"
sb=unknown
has mokutil && case $(mokutil --sb-state 2>/dev/null) in
  *"SecureBoot enabled"*) sb=enabled;; *"SecureBoot disabled"*) sb=disabled;; esac
if [ "$sb" = unknown ]; then
  e=$(ls /sys/firmware/efi/efivars/SecureBoot-* 2>/dev/null | head -n 1)
  if [ -n "$e" ]; then
    case $(od -An -tu1 -j4 -N1 "$e" | tr -d ' ') in 1) sb=enabled;; 0) sb=disabled;; esac
  elif [ -d /sys/firmware ] && [ ! -d /sys/firmware/efi ]; then sb=disabled; fi
fi
kv secure_boot "$sb"
if has cryptsetup && has blkid; then
  l=$(for d in $(blkid -t TYPE=crypto_LUKS -o device 2>/dev/null); do
    cryptsetup luksDump "$d" 2>/dev/null | sed -n 's/^[[:space:]]*PBKDF:[[:space:]]*//p;
      s/^Version:[[:space:]]*1$/pbkdf2/p'; done | sort -u | tr '\n' ',')
  kv luks_pbkdf "${l%,}"
fi
if has pro; then
  timeout 120 pro status --format json --all 2>/dev/null | python3 -c '
import json, sys
def a(v): return str(v) if str(v).isascii() else "none"
try: d = json.load(sys.stdin)
except Exception: print("pro_attached=unknown"); sys.exit()
s = ([x for x in d.get("services") or [] if x.get("name") == "fips-updates"] or [{}])[0]
print("pro_attached=" + ("yes" if d.get("attached") else "no"))
print("pro_fips_updates=" + a(s.get("status", "n/a")))
print("pro_fips_entitled=" + a(s.get("entitled", "unknown")))
print("pro_execution=" + a(d.get("execution_status", "")))' 2>/dev/null || echo pro_attached=unknown
fi
if has fips-mode-setup; then
  fips-mode-setup --is-enabled >/dev/null 2>&1; kv fms_is_enabled "$?"
  fips-mode-setup --check >/dev/null 2>&1; kv fms_check "$?"
fi
# TuxCare ESU (AlmaLinux 9.2): `tuxctl -v` exits 0 "Server is registered with token ..." or 1
# "Server is not registered" (TuxCare's README); its text holds the token, so only rc is kept.
if has tuxctl; then if tuxctl -v >/dev/null 2>&1; then kv tuxcare_registered yes
  else kv tuxcare_registered no; fi; fi
# Evidence: the FIPS provider as `openssl list -providers` prints it (OpenSSL 3: the provider
# id indented two spaces, then "name:"/"version:" lines); CMVP certificates name that version.
# The kernel's fips_name/fips_version (Linux 6.0+, RHEL 9) "must match ... FIPS certificates".
has openssl && timeout 30 openssl list -providers 2>/dev/null | awk '/^  [^ ]/ {f = ($1 == "fips")}
  f && $1 == "name:" {sub(/^ *name: */, ""); print "openssl_fips_name=" substr($0, 1, 120)}
  f && $1 == "version:" {print "openssl_fips_version=" substr($2, 1, 60)}'
for k in fips_name fips_version; do
  [ -r /proc/sys/crypto/$k ] && kv "kernel_$k" "$(cat /proc/sys/crypto/$k)"; done
# MD5 refused is the FIPS provider at work (evidence; read-only: a digest of nothing).
has openssl && { if openssl md5 </dev/null >/dev/null 2>&1; then kv md5 allowed
  else kv md5 refused; fi; }
# Crypto package versions, name=version comma-separated (rpm: not-installed lines dropped);
# rpm is asked when dpkg knows none of them (a dpkg binary on an rpm system knows nothing).
pk=""; if has dpkg-query; then pk=$(dpkg-query -W -f '${Package}=${Version},' openssl libssl3 \
  openssl-fips-module-3 libgcrypt20 libgnutls30 2>/dev/null); fi
if [ -z "$pk" ] && has rpm; then pk=$(rpm -q --qf '%{NAME}=%{VERSION}-%{RELEASE}\n' \
  openssl-libs openssl-fips-provider-so gnutls libgcrypt nss kernel-core 2>/dev/null \
  | grep '=' | tr '\n' ,); fi
[ -n "$pk" ] && printf 'packages=%s\n' "$(printf '%s' "${pk%,}" | cut -c1-400)"
exit 0
"""
)

_KEY_TYPE = re.compile(r"ssh-[a-z0-9]+|ecdsa-sha2-nistp[0-9]+|sk-[a-z0-9@.-]+")
RHEL_FAMILY = ("rhel", "almalinux", "rocky", "centos", "ol", "oracle")


@dataclass(frozen=True)
class SshKey:
    user: str
    type: str  # rsa, ecdsa, ed25519, dsa, ecdsa-sk, ed25519-sk, or the raw key type
    bits: int | None


@dataclass(frozen=True)
class GuestFacts:
    """What detection and preflight know about a guest; None means "could not tell"."""

    os_id: str = ""
    os_version: str = ""
    os_pretty: str = ""
    os_like: str = ""
    kernel: str = ""
    cmdline_fips: str | None = None  # the value of fips= on the kernel command line
    fips_enabled: str | None = None  # /proc/sys/crypto/fips_enabled
    crypto_policy: str | None = None
    agent_daemon: str | None = None
    agent_goal_state: str | None = None
    autoupdate_enabled: str | None = None  # raw waagent.conf value; None: absent (default y)
    autoupdate_latest: str | None = None
    sshd_ciphers: tuple[str, ...] | None = None
    sshd_ciphers_explicit: bool | None = None  # a Ciphers line in sshd_config(.d), not the policy
    ssh_keys: tuple[SshKey, ...] = ()
    secure_boot: str = "unknown"  # enabled | disabled | unknown
    luks_pbkdf: tuple[str, ...] | None = None  # () = no LUKS device; None = unknown
    pro_attached: bool | None = None
    pro_fips_updates: str | None = None
    pro_fips_entitled: str | None = None
    pro_execution: str | None = None
    fms_is_enabled: int | None = None  # fips-mode-setup --is-enabled rc (0 on, 1 mixed, 2 off)
    fms_check: int | None = None
    tuxcare_registered: bool | None = None  # `tuxctl -v` rc (AlmaLinux 9.2 with TuxCare ESU)
    openssl_fips_name: str | None = None  # `openssl list -providers`: the fips provider's name
    openssl_fips_version: str | None = None  # ... and version (what a CMVP certificate names)
    kernel_fips_name: str | None = None  # /proc/sys/crypto/fips_name (absent before Linux 6.0)
    kernel_fips_version: str | None = None  # /proc/sys/crypto/fips_version
    md5: str | None = None  # "refused" (FIPS provider active) or "allowed"
    packages: tuple[str, ...] | None = None  # crypto packages as "name=version"
    source: str = "probe"
    complete: bool = True  # False when the probe output was cut

    @property
    def rhel_family(self) -> bool:
        return self.os_id in RHEL_FAMILY or "rhel" in self.os_like.split()

    @property
    def autoupdate_on(self) -> bool:
        """Both switches on, read like the agent's get_switch: y/n only, anything else the
        default (AutoUpdate.Enabled: y; UpdateToLatestVersion: the value of AutoUpdate.Enabled)."""
        enabled = _switch(self.autoupdate_enabled, True)
        return enabled and _switch(self.autoupdate_latest, enabled)

    @property
    def fips_state(self) -> str:
        if self.fips_enabled == "1":
            return "enabled"
        configured = (
            (self.crypto_policy or "").startswith("FIPS")
            or self.pro_execution == ("reboot-required")
            or self.fms_is_enabled == 1
        )
        if self.fips_enabled == "0":
            return "pending-reboot" if configured else "disabled"
        return "unknown"

    @property
    def describe(self) -> str:
        return self.os_pretty or f"{self.os_id or 'unknown'} {self.os_version}".strip()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fips_state"] = self.fips_state
        data["autoupdate_on"] = self.autoupdate_on
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuestFacts:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["ssh_keys"] = tuple(SshKey(**k) for k in values.get("ssh_keys", ()))
        for key in ("sshd_ciphers", "luks_pbkdf", "packages"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


def parse_probe(stdout: str) -> GuestFacts:
    raw = parse_facts(stdout, one_per_line=True)

    def opt(key: str, absent: tuple[str, ...] = ("", "absent")) -> str | None:
        value = raw.get(key)
        return None if value is None or value in absent else value

    def num(key: str) -> int | None:
        value = opt(key)
        return int(value) if value and value.isdigit() else None

    attached = opt("pro_attached", ("", "unknown"))
    ciphers, luks = opt("sshd_ciphers"), raw.get("luks_pbkdf")
    explicit = opt("sshd_ciphers_explicit")
    tuxcare = opt("tuxcare_registered")
    return GuestFacts(
        os_id=raw.get("os_id", "").lower(),
        os_version=raw.get("os_version", ""),
        os_pretty=raw.get("os_pretty", ""),
        os_like=raw.get("os_like", ""),
        kernel=raw.get("kernel", ""),
        cmdline_fips=opt("cmdline_fips"),
        fips_enabled=opt("fips_enabled"),
        crypto_policy=opt("crypto_policy"),
        agent_daemon=opt("agent_daemon"),
        agent_goal_state=opt("agent_goal_state"),
        autoupdate_enabled=opt("autoupdate_enabled"),
        autoupdate_latest=opt("autoupdate_latest"),
        sshd_ciphers=tuple(ciphers.split(",")) if ciphers else None,
        sshd_ciphers_explicit=None if explicit is None else explicit == "yes",
        ssh_keys=tuple(_key_item(item) for item in raw.get("ssh_keys", "").split()),
        secure_boot=raw.get("secure_boot", "unknown"),
        luks_pbkdf=None if luks is None else tuple(p for p in luks.split(",") if p),
        pro_attached=None if attached is None else attached == "yes",
        pro_fips_updates=opt("pro_fips_updates"),
        pro_fips_entitled=opt("pro_fips_entitled"),
        pro_execution=opt("pro_execution"),
        fms_is_enabled=num("fms_is_enabled"),
        fms_check=num("fms_check"),
        tuxcare_registered=None if tuxcare is None else tuxcare == "yes",
        openssl_fips_name=opt("openssl_fips_name"),
        openssl_fips_version=opt("openssl_fips_version"),
        kernel_fips_name=opt("kernel_fips_name"),
        kernel_fips_version=opt("kernel_fips_version"),
        md5=opt("md5"),
        packages=tuple(p for p in raw["packages"].split(",") if p) if "packages" in raw else None,
        source="probe",
        complete="probe" in raw,
    )


def _switch(value: str | None, default: bool) -> bool:
    """WALinuxAgent's get_switch: y/Y on, n/N off, anything else (or unset) the default."""
    low = (value or "").lower()
    return True if low == "y" else False if low == "n" else default


def _key_item(item: str) -> SshKey:
    user, _, rest = item.partition(":")
    key_type, _, bits = rest.rpartition(":")
    return SshKey(user, key_type, int(bits) if bits.isdigit() else None)


class NoRecipe(FipsWizardError):
    """No recipe applies to this guest; `reason` says why and lists what is supported."""

    def __init__(self, reason: str, facts: GuestFacts | None = None) -> None:
        super().__init__(reason)
        self.reason, self.facts = reason, facts


def select_recipe(facts: GuestFacts, recipes: list[GuestRecipe] | None = None) -> GuestRecipe:
    """The first recipe whose [[match]] holds (recipes sorted by id), or NoRecipe(reason)."""
    recipes = all_guest_recipes() if recipes is None else recipes
    refusal = _policy_refusal(facts)
    if refusal:
        raise NoRecipe(refusal, facts)
    for recipe in recipes:
        if recipe.applies_to(facts.os_id, facts.os_version):
            return recipe
    supported = "; ".join(r.supported for r in recipes if r.supported and r.matches)
    what = f"{facts.describe} (ID={facts.os_id or '?'}, VERSION_ID={facts.os_version or '?'})"
    if facts.os_id in ("azurelinux", "mariner"):
        raise NoRecipe(
            f"{what}: no in-guest step is needed or offered. Deploy Microsoft's FIPS image "
            "(azure-linux-3-gen2-fips); Azure Linux's SymCrypt-OpenSSL provider still accepts "
            "the agent's older certificate ciphers, so extensions keep working there "
            "(WALinuxAgent #3227).",
            facts,
        )
    eol = " (end of life)" if facts.os_id == "centos" and facts.os_version.startswith("7") else ""
    raise NoRecipe(
        f"{what}{eol} is not supported. Supported: {supported or 'none installed'}.", facts
    )


def _policy_refusal(facts: GuestFacts) -> str | None:
    from packaging.version import InvalidVersion, Version  # only when a version is compared

    try:
        major = Version(facts.os_version).major
    except InvalidVersion:
        return None
    if facts.os_id in RHEL_FAMILY and major >= 10:
        return (
            f"{facts.describe}: Red Hat does not support switching RHEL 10 to FIPS mode "
            "after installation (fips-mode-setup was removed). Install the system with the "
            "fips=1 kernel option instead; turning FIPS off later needs a reinstall."
        )
    return None


# ------------------------------------------------------------------ reading a root directly


def local_facts(root: Path | None) -> GuestFacts:
    """Facts from the files under `root` ("/" when None): no commands run, nothing written."""
    import distro

    base = Path(root) if root else Path("/")
    info = distro.LinuxDistribution(root_dir=str(base))
    read = _Reader(base)
    conf = read.text("etc/waagent.conf") or ""
    cmdline = read.text("proc/cmdline") or ""
    fips_arg = next((w[5:] for w in cmdline.split() if w.startswith("fips=")), None)
    pro = _pro_status(read.text("var/lib/ubuntu-advantage/status.json"))
    daemon = read.agent_daemon()
    return GuestFacts(
        os_id=info.id(),
        os_version=info.os_release_attr("version_id") or info.version(),
        os_pretty=info.name(pretty=True),
        os_like=info.like(),
        kernel=_uname() if root is None else "",
        cmdline_fips=fips_arg,
        fips_enabled=(read.text("proc/sys/crypto/fips_enabled") or "").strip() or None,
        crypto_policy=_first_line(read.text("etc/crypto-policies/config")),
        agent_daemon=daemon,
        agent_goal_state=read.goal_state() or daemon,
        autoupdate_enabled=_conf_value(conf, "AutoUpdate.Enabled"),
        autoupdate_latest=_conf_value(conf, "AutoUpdate.UpdateToLatestVersion"),
        sshd_ciphers=read.sshd_ciphers(),
        ssh_keys=read.ssh_keys(),
        sshd_ciphers_explicit=read.explicit_ciphers(),
        secure_boot=read.secure_boot(),
        luks_pbkdf=None,
        source="local",
        **pro,
    )


def _uname() -> str:
    import os

    return os.uname().release


def _first_line(text: str | None) -> str | None:
    """The policy in /etc/crypto-policies/config: the first text outside comments."""
    lines = [ln.split("#", 1)[0].strip() for ln in (text or "").splitlines()]
    return next((ln for ln in lines if ln), None)


def _conf_value(text: str, key: str) -> str | None:
    """The value WALinuxAgent reads for `key` (azurelinuxagent/common/conf.py)."""
    value = None
    for line in text.split("\n"):
        if not line.startswith("#") and "=" in line:
            name, rest = line.split("=", 1)
            if name.strip() == key:
                value = rest.split("#")[0].strip('" ').strip()
    return None if value in (None, "None") else value


def _pro_status(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return {}
    services = [s for s in data.get("services") or [] if s.get("name") == "fips-updates"]
    svc = services[0] if services else {}
    return {
        "pro_attached": bool(data.get("attached")),
        "pro_fips_updates": svc.get("status"),
        "pro_fips_entitled": svc.get("entitled"),
        "pro_execution": data.get("execution_status"),
    }


def key_from_line(line: str, user: str) -> SshKey | None:
    """One authorized_keys line -> its key type and size (RSA size decoded from the blob)."""
    words = line.split()
    for word, blob in zip(words, words[1:], strict=False):
        # the type is a whole word followed by the base64 blob (options may quote key names)
        if _KEY_TYPE.fullmatch(word) and blob.startswith("AAAA"):
            return SshKey(user, *_type_bits(word, blob))
    return None


def _type_bits(key_type: str, blob: str) -> tuple[str, int | None]:
    if key_type == "ssh-rsa":
        return "rsa", _rsa_bits(blob)
    if key_type.startswith("ecdsa-sha2-nistp"):
        return "ecdsa", int(key_type[16:]) if key_type[16:].isdigit() else None
    named = {"ssh-ed25519": ("ed25519", 256), "ssh-dss": ("dsa", 1024)}
    if key_type in named:
        return named[key_type]
    if key_type.startswith("sk-"):
        return ("ed25519-sk" if "ed25519" in key_type else "ecdsa-sk"), 256
    return key_type, None


def _rsa_bits(blob: str) -> int | None:
    try:
        data = base64.b64decode(blob, validate=True)
        fields_: list[bytes] = []
        at = 0
        while at + 4 <= len(data) and len(fields_) < 3:
            size = int.from_bytes(data[at : at + 4], "big")
            fields_.append(data[at + 4 : at + 4 + size])
            at += 4 + size
        return int.from_bytes(fields_[2], "big").bit_length() if len(fields_) == 3 else None
    except (binascii.Error, ValueError):
        return None


@dataclass
class _Reader:
    root: Path
    _cache: dict[str, str | None] = field(default_factory=dict)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def text(self, rel: str) -> str | None:
        try:
            return self.path(rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def agent_daemon(self) -> str | None:
        for pattern in (
            "usr/lib/python3*/site-packages/azurelinuxagent/common/version.py",
            "usr/lib/python3*/dist-packages/azurelinuxagent/common/version.py",
        ):
            for path in sorted(self.root.glob(pattern)):
                found = re.search(
                    r"(?m)^AGENT_VERSION\s*=\s*['\"]([\d.]+)['\"]",
                    path.read_text(encoding="utf-8", errors="replace"),
                )
                if found:
                    return found.group(1)
        return None

    def goal_state(self) -> str | None:
        dirs = self.root.glob("var/lib/waagent/WALinuxAgent-*")
        versions = [
            p.name.split("-", 1)[1]
            for p in dirs
            if p.is_dir() and re.fullmatch(r"WALinuxAgent-[\d.]+", p.name)
        ]
        from packaging.version import Version

        return max(versions, key=Version) if versions else None

    def sshd_ciphers(self) -> tuple[str, ...] | None:
        """The first Ciphers line sshd would read (Include expanded); None when not set."""
        for line in self._sshd_lines("etc/ssh/sshd_config", 0):
            words = line.split(None, 1)
            if len(words) == 2 and words[0].lower() == "ciphers":
                return tuple(words[1].strip().split(","))
        return None

    def explicit_ciphers(self) -> bool:
        """A Ciphers line in sshd_config or its drop-ins (not the crypto-policies back-end)."""
        paths = [
            self.path("etc/ssh/sshd_config"),
            *sorted(self.root.glob("etc/ssh/sshd_config.d/*.conf")),
        ]
        return any(
            re.search(r"(?im)^\s*ciphers\s", self.text(str(p.relative_to(self.root))) or "")
            for p in paths
        )

    def _sshd_lines(self, rel: str, depth: int) -> list[str]:
        lines: list[str] = []
        for line in (self.text(rel) or "").splitlines():
            words = line.strip().split()
            if words and words[0].lower() == "include" and depth < 4:
                for pattern in words[1:]:
                    pattern = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                    for path in sorted(self.root.glob(pattern.lstrip("/"))):
                        lines += self._sshd_lines(str(path.relative_to(self.root)), depth + 1)
            elif words and not words[0].startswith("#"):
                lines.append(line.strip())
        return lines

    def ssh_keys(self) -> tuple[SshKey, ...]:
        found: list[SshKey] = []
        files = [("root", self.path("root/.ssh/authorized_keys"))]
        files += [(p.parts[-3], p) for p in sorted(self.root.glob("home/*/.ssh/authorized_keys"))]
        for user, path in files:
            for line in (self.text(str(path.relative_to(self.root))) or "").splitlines():
                key = key_from_line(line, user) if not line.lstrip().startswith("#") else None
                if key:
                    found.append(key)
        return tuple(found)

    def secure_boot(self) -> str:
        for path in self.root.glob("sys/firmware/efi/efivars/SecureBoot-*"):
            data = path.read_bytes()
            return (
                {1: "enabled", 0: "disabled"}.get(data[4], "unknown")
                if len(data) > 4
                else ("unknown")
            )
        return "unknown"
