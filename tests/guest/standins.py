# ruff: noqa: E501  (the module embeds shell scripts whose lines are kept whole)
"""Stand-ins for the distro tools the guest recipes call, generated into `<root>/opt/fw-standins`.

Each stand-in is a small bash script that appends its argv (shell-quoted) to
`/var/log/fw-standins.log` and then changes the fake root the way the real tool changes a real
system: real file locations where they matter (/etc/crypto-policies, BLS entries under
/boot/loader/entries, /etc/apt/sources.list.d, /var/lib/dpkg/status, /etc/dnf/vars,
/var/lib/waagent/WALinuxAgent-*), plus a little simulator state under /var/lib/fw-standins
(running kernel, what the WireServer offers, hashes of the valid Pro token / TuxCare key).
Services keep their state under /run, which `simulate_reboot` empties like a tmpfs.
"""

from __future__ import annotations

from pathlib import Path

from . import standins_el, standins_ubuntu

LOG = "var/log/fw-standins.log"
STATE = "var/lib/fw-standins"
DIR = "opt/fw-standins"

# Sourced by every stand-in (not executable, so it is never run as a command).
LIB = r"""# shared by the fipswizard test stand-ins
S=/var/lib/fw-standins
fw_log() { { printf '%s' "$FW_TOOL"; printf ' %q' "$@"; printf '\n'; } >>/var/log/fw-standins.log; }
fw_note() { printf '#note %s %s\n' "$FW_TOOL" "$*" >>/var/log/fw-standins.log; }
# The agent's reading of /etc/waagent.conf (WALinuxAgent azurelinuxagent/common/conf.py): only
# a line whose first character is '#' is a comment; key = text before the first '=', stripped;
# value cut at '#', stripped of quotes and blanks; the last line wins; a switch is y/Y or n/N,
# anything else is the default (AutoUpdate.Enabled: y; UpdateToLatestVersion: AutoUpdate.Enabled).
fw_switch() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, key, default = sys.argv[1:]
values = {}
for line in open(path, encoding="utf-8", errors="replace").read().split("\n"):
    if not line.startswith("#") and "=" in line:
        k, v = line.split("=", 1)
        values[k.strip()] = v.split("#")[0].strip('" ').strip()
v = (values.get(key) or "").lower()
print(v if v in ("y", "n") else default)
PY
}
fw_autoupdate_on() {
  local en; en=$(fw_switch /etc/waagent.conf AutoUpdate.Enabled y)
  [ "$en" = y ] && [ "$(fw_switch /etc/waagent.conf AutoUpdate.UpdateToLatestVersion "$en")" = y ]
}
fw_os() { sed -n "s/^$1=//p" /etc/os-release | tail -n 1 | tr -d '"'; }
fw_fips() { cat /proc/sys/crypto/fips_enabled 2>/dev/null || echo 0; }
"""

SYSTEMCTL = r"""
fw_log "$@"
# Options before the verb, as systemctl(1) takes them; --no-block: queue the job and return
# (the stand-in does the job at once: no test here waits on systemd's job queue).
while [ "${1#-}" != "${1:-}" ]; do
  case $1 in --no-block | -q | --quiet) shift ;; *) echo "systemctl stand-in: unsupported option $1" >&2; exit 2 ;; esac
done
unit=${2:-}; unit=${unit%.service}
unit_file() {
  local d; for d in /etc/systemd/system /usr/lib/systemd/system; do
    [ -e "$d/$1.service" ] && { echo "$d/$1.service"; return 0; }; done; return 1
}
# The agent checks for a newer goal-state agent when it starts (auto-update on): it downloads
# what the WireServer offers into /var/lib/waagent/WALinuxAgent-<version>.
agent_started() {
  fw_autoupdate_on || return 0
  local v; v=$(cat "$S/wireserver-agent" 2>/dev/null) || return 0
  [ -n "$v" ] && mkdir -p "/var/lib/waagent/WALinuxAgent-$v" \
    && printf '{"version": "%s"}\n' "$v" >"/var/lib/waagent/WALinuxAgent-$v/HandlerManifest.json"
}
case "${1:-}" in
  start | restart)
    f=$(unit_file "$unit") || { echo "Failed to $1 $unit.service: Unit $unit.service not found." >&2; exit 5; }
    rm -f "/run/fw-standins/units/$unit.stopped"
    rmdir /run/fw-standins/units /run/fw-standins 2>/dev/null
    case $unit in waagent | walinuxagent) agent_started ;; esac ;;
  stop)
    unit_file "$unit" >/dev/null || { echo "Failed to stop $unit.service: Unit $unit.service not loaded." >&2; exit 5; }
    mkdir -p /run/fw-standins/units && : >"/run/fw-standins/units/$unit.stopped" ;;
  is-active)
    if unit_file "$unit" >/dev/null && [ ! -e "/run/fw-standins/units/$unit.stopped" ]; then echo active; exit 0; fi
    echo inactive; exit 3 ;;
  cat)
    f=$(unit_file "$unit") || { echo "No files found for $unit.service." >&2; exit 1; }
    echo "# $f"; cat "$f" ;;
  daemon-reload | enable | disable) ;;
  reboot) echo "systemctl stand-in: the test harness reboots the fake root (simulate_reboot)" ;;
  *) echo "systemctl stand-in: unsupported: $*" >&2; exit 2 ;;
esac
"""

WAAGENT = r"""
fw_log "$@"
case "${1:-}" in --version | -version) ;; *) echo "waagent stand-in: unsupported: $*" >&2; exit 2 ;; esac
daemon=$(sed -n "s/^AGENT_VERSION *= *['\"]\([0-9.]*\)['\"].*/\1/p" \
  /usr/lib/python3*/site-packages/azurelinuxagent/common/version.py \
  /usr/lib/python3/dist-packages/azurelinuxagent/common/version.py 2>/dev/null | head -n 1)
goal=$daemon
if fw_autoupdate_on; then
  goal=$( { echo "$daemon"; for d in /var/lib/waagent/WALinuxAgent-*; do
    [ -d "$d" ] && echo "${d##*WALinuxAgent-}"; done; } | sort -V | tail -n 1)
fi
name=$(fw_os ID); [ "$name" = rhel ] && name=redhat
printf 'WALinuxAgent-%s running on %s %s\nPython: 3.9.18\nGoal state agent: %s\n' \
  "$daemon" "$name" "$(fw_os VERSION_ID)" "$goal"
"""

UNAME = r"""
fw_log "$@"
if [ "${1:-}" = -r ] && [ -f "$S/kernel" ]; then cat "$S/kernel"; exit 0; fi
exec /usr/bin/uname "$@"
"""

REBOOT = r"""
fw_log "$@"
echo "reboot stand-in: the test harness reboots the fake root (simulate_reboot)"
"""

# OpenSSL 3 as the guest would run it: Flatcar loads the FIPS provider from openssl.cnf; RHEL and
# AlmaLinux load it by themselves when the kernel runs in FIPS mode.
OPENSSL = r"""
fw_log "$@"
cnf=/etc/ssl/openssl.cnf
if grep -q '^\.include /etc/ssl/fipsmodule.cnf' "$cnf" 2>/dev/null && [ ! -s /etc/ssl/fipsmodule.cnf ]; then
  echo "openssl: error loading configuration file $cnf: .include /etc/ssl/fipsmodule.cnf: No such file" >&2
  exit 1
fi
fips=0
if [ "$(fw_os ID)" = flatcar ]; then
  grep -q '^fips = fips_sect' "$cnf" 2>/dev/null && grep -q '^activate = 1' /etc/ssl/fipsmodule.cnf 2>/dev/null && fips=1
else
  [ "$(fw_fips)" = 1 ] && fips=1
fi
provider() { printf '  %s\n    name: %s\n    version: 3.0.7\n    status: active\n' "$1" "$2"; }
case "${1:-}" in
  fipsinstall)
    out="" module=""
    while [ $# -gt 0 ]; do case $1 in -out) out=$2; shift ;; -module) module=$2; shift ;; esac; shift; done
    [ -e "$module" ] || { echo "Failed to open module file $module" >&2; exit 1; }
    mac=$(sha256sum "$module" | cut -c1-64 | tr a-f A-F | sed 's/../&:/g; s/:$//')
    printf '[fips_sect]\nactivate = 1\ninstall-version = 1\nconditional-errors = 1\nsecurity-checks = 1\nmodule-mac = %s\ninstall-mac = %s\ninstall-status = INSTALL_SELF_TEST_KATS_RUN\n' \
      "$mac" "$mac" >"$out" || exit 1
    echo "INSTALL PASSED" >&2 ;;
  list)
    [ "${2:-}" = -providers ] || { echo "openssl stand-in: unsupported: $*" >&2; exit 2; }
    echo "Providers:"
    if [ "$fips" = 1 ]; then
      [ "$(fw_os ID)" = flatcar ] && provider base "OpenSSL Base Provider"
      case $(fw_os ID) in
        flatcar) provider fips "OpenSSL FIPS Provider" ;;
        almalinux) provider fips "OpenSSL FIPS Provider for AlmaLinux 9" ;;
        *) provider fips "Red Hat Enterprise Linux 9 - OpenSSL FIPS Provider" ;;
      esac
    else
      provider default "OpenSSL Default Provider"
    fi ;;
  md5)
    if [ "$fips" = 1 ]; then
      echo "Error setting digest" >&2
      echo "error:0308010C:digital envelope routines:inner_evp_generic_fetch:unsupported:crypto/evp/evp_fetch.c:349:Global default library context, Algorithm (MD5 : 104), Properties ()" >&2
      exit 1
    fi
    # Not our code's digest: the stand-in only imitates openssl's output in non-FIPS mode.
    echo "MD5(stdin)= $(md5sum | cut -d' ' -f1)" ;;
  *) echo "openssl stand-in: unsupported: $*" >&2; exit 2 ;;
esac
"""

COMMON = {
    "systemctl": SYSTEMCTL,
    "waagent": WAAGENT,
    "uname": UNAME,
    "reboot": REBOOT,
    "openssl": OPENSSL,
}
BY_DISTRO = {
    "rhel": standins_el.TOOLS_RHEL,
    "almalinux": standins_el.TOOLS_ALMA,
    "ubuntu": standins_ubuntu.TOOLS,
    "flatcar": {},
}


def install_standins(root: Path, distro_id: str) -> Path:
    """Write the stand-ins for `distro_id` into `<root>/opt/fw-standins`; returns that dir."""
    folder = root / DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".fw-standin-lib").write_text(LIB, encoding="utf-8")
    for tool, body in {**COMMON, **BY_DISTRO[distro_id]}.items():
        path = folder / tool
        path.write_text(
            "#!/bin/bash\n# fipswizard test stand-in for `" + tool + "` (tests/guest/standins.py)\n"
            f"FW_TOOL={tool}\n. /{DIR}/.fw-standin-lib\n" + body.lstrip("\n"),
            encoding="utf-8",
        )
        path.chmod(0o755)
    (root / LOG).parent.mkdir(parents=True, exist_ok=True)
    (root / LOG).touch()
    return folder


def calls(root: Path) -> list[str]:
    """The stand-in call log: one line per call (`tool arg ...`) or `#note tool ...`."""
    path = root / LOG
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def tool_calls(root: Path, tool: str) -> list[str]:
    return [line for line in calls(root) if line == tool or line.startswith(tool + " ")]
