# ruff: noqa: E501  (the module embeds shell scripts whose lines are kept whole)
"""Stand-ins for RHEL 9 / AlmaLinux 9 tools: fips-mode-setup, update-crypto-policies, grubby,
dnf, rpm and tuxctl (see standins.py for the conventions).

Modelled on the real tools (facts, not code): fedora-crypto-policies `fips-mode-setup`,
`python/update-crypto-policies.py` and the packaged `/etc/crypto-policies/config` (17 comment
lines, DEFAULT on line 18; the same text is insights-core's CryptoPoliciesConfig fixture);
rhboot/grubby `grubby-bls` (BLS entries under /boot/loader/entries; with --update-kernel=ALL
it also rewrites GRUB_CMDLINE_LINUX in /etc/default/grub so grub2-mkconfig keeps the change).
"""

from __future__ import annotations

# The package database is a text file ("name version-release.arch" per line), not rpmdb.sqlite.
PKG_DB = "/var/lib/rpm/fw-standin-packages"
TUXCARE_KERNEL = "5.14.0-284.11.1.el9_2.tuxcare.6.x86_64"
TUXCARE_OPENSSL = "3.0.7-20.el9_2.tuxcare.1.x86_64"


# /etc/crypto-policies/config as the crypto-policies package installs it: the policy is on the
# first line that is not a comment (line 18), so `head -n 1` reads a comment.
PACKAGED_CONFIG = """# This file should contain a single keyword, the crypto policy to
# be applied by default to applications. The available policies are
# restricted to the following profiles.
#
# * LEGACY: Ensures maximum compatibility with legacy systems (64-bit
#   security)
#
# * DEFAULT: A reasonable default for today's standards (112-bit security).
#
# * FUTURE: A level that will provide security on a conservative level that is
#   believed to withstand any near-term future attacks (128-bit security).
#
# * FIPS: Policy that enables only FIPS 140-2 approved or allowed algorithms.
#
# After modifying this file, you need to run update-crypto-policies
# for the changes to propagate.
#
DEFAULT
"""

# /etc/default/grub of a RHEL 9 Azure image (the fields grub2-mkconfig reads).
DEFAULT_GRUB = (
    "GRUB_TIMEOUT=10\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\n"
    'GRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT="console"\n'
    'GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M console=tty1 console=ttyS0,115200n8 '
    'earlyprintk=ttyS0,115200 rootdelay=300"\nGRUB_DISABLE_RECOVERY="true"\n'
    "GRUB_ENABLE_BLSCFG=true\n"
)


def crypto_policy_files(policy: str, *, packaged: bool = False) -> dict[str, str]:
    """The crypto-policies files for POLICY: as the package installs them (`packaged`, DEFAULT
    only), or as `update-crypto-policies --set POLICY` leaves them (same bytes as the stand-in,
    which rewrites the config as the bare policy line)."""
    config = PACKAGED_CONFIG if packaged else f"{policy}\n"
    files = {
        "etc/crypto-policies/config": config,
        "etc/crypto-policies/state/current": f"{policy}\n",
    }
    for backend in ("gnutls", "openssl", "opensshserver"):
        files[f"etc/crypto-policies/back-ends/{backend}.config"] = (
            f"# {backend} back-end generated for policy {policy}\n"
        )
    return files


UPDATE_CRYPTO_POLICIES = r"""
fw_log "$@"
# The config's first word outside comments and blank lines (update-crypto-policies.py).
current() { sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' /etc/crypto-policies/config 2>/dev/null | grep -m 1 -v '^$'; }
set_policy() {
  local be
  mkdir -p /etc/crypto-policies/state /etc/crypto-policies/back-ends
  printf '%s\n' "$1" >/etc/crypto-policies/config
  printf '%s\n' "$1" >/etc/crypto-policies/state/current
  for be in gnutls openssl opensshserver; do
    printf '# %s back-end generated for policy %s\n' "$be" "$1" >"/etc/crypto-policies/back-ends/$be.config"
  done
}
policy="" action=""
while [ $# -gt 0 ]; do
  case $1 in
    --show) action=show ;; --check) action=check ;; --no-reload) ;;
    --set) action=set; policy=${2:-}; shift ;;
    *) echo "update-crypto-policies stand-in: unsupported: $1" >&2; exit 2 ;;
  esac
  shift
done
case $action in
  show) current ;;
  check)
    if [ "$(current)" = "$(cat /etc/crypto-policies/state/current 2>/dev/null)" ]; then
      echo "The configured policy matches the generated policy"; exit 0; fi
    echo "The configured policy does NOT match the generated policy"; exit 1 ;;
  set)
    case $policy in DEFAULT* | LEGACY* | FUTURE* | FIPS*) ;; *) echo "Unknown policy \`$policy\`" >&2; exit 1 ;; esac
    set_policy "$policy"
    echo "Setting system policy to $policy"
    case $policy in FIPS*) echo "Note: System-wide crypto policies are applied on application start-up." ;; esac ;;
esac
"""

GRUBBY = r"""
fw_log "$@"
set -f  # boot options are words, never globs
E=/boot/loader/entries
entries() {
  local f; find "$E" -maxdepth 1 -name '*.conf' 2>/dev/null | while read -r f; do
    printf '%s %s\n' "$(sed -n 's/^version //p' "$f")" "$f"; done | sort -rV | cut -d' ' -f2-
}
default_entry() {  # grubenv's saved_entry when it names an entry, else the newest one
  local id; id=$(sed -n 's/^saved_entry=//p' /boot/grub2/grubenv 2>/dev/null)
  if [ -n "$id" ] && [ -e "$E/$id.conf" ]; then echo "$E/$id.conf"; else entries | head -n 1; fi
}
add_args() {  # OPTIONS ARGS: replace a key in place, else append
  local opts=$1 a w out found
  for a in $2; do
    out="" found=0
    for w in $opts; do
      if [ "${w%%=*}" = "${a%%=*}" ]; then [ $found = 0 ] && out="$out $a"; found=1; else out="$out $w"; fi
    done
    [ $found = 0 ] && out="$out $a"
    opts=${out# }
  done
  printf '%s' "$opts"
}
remove_args() {  # OPTIONS ARGS: "key" removes key and key=*, "key=v" only that word
  local opts=$1 a w out
  for a in $2; do
    out=""
    for w in $opts; do
      if [ "$a" = "${a%%=*}" ] && [ "${w%%=*}" = "$a" ]; then continue; fi
      [ "$w" = "$a" ] && continue
      out="$out $w"
    done
    opts=${out# }
  done
  printf '%s' "$opts"
}
set_options() {  # FILE OPTIONS, written in place (keeps the file's mode)
  local new; new=$(awk -v o="$2" '/^options /{print "options " o; next} {print}' "$1")
  printf '%s\n' "$new" >"$1"
}
which="" add="" del="" info="" default=0
for a in "$@"; do
  case $a in
    --update-kernel=*) which=${a#*=} ;; --args=*) add=${a#*=} ;; --remove-args=*) del=${a#*=} ;;
    --info=*) info=${a#*=} ;; --default-kernel) default=1 ;;
    *) echo "grubby stand-in: unsupported: $a" >&2; exit 2 ;;
  esac
done
if [ $default = 1 ]; then
  f=$(default_entry); echo "/boot/vmlinuz-$(sed -n 's/^version //p' "$f")"; exit 0
fi
if [ -n "$info" ]; then
  i=0
  for f in $(entries); do
    v=$(sed -n 's/^version //p' "$f") o=$(sed -n 's/^options //p' "$f") args="" root=""
    for w in $o; do case $w in root=*) root=${w#root=} ;; *) args="$args $w" ;; esac; done
    printf 'index=%s\nkernel="/boot/vmlinuz-%s"\nargs="%s"\nroot="%s"\ninitrd="/boot/initramfs-%s.img"\ntitle="%s"\nid="%s"\n' \
      "$i" "$v" "${args# }" "$root" "$v" "$(sed -n 's/^title //p' "$f")" "$(basename "$f" .conf)"
    i=$((i + 1))
  done
  exit 0
fi
[ "$which" = ALL ] || { echo "grubby stand-in: only --update-kernel=ALL" >&2; exit 2; }
# Fault knob for tests of a rollback that stops part-way.
if [ -n "$del" ] && [ -e "$S/fail-grubby-remove" ]; then echo "grubby: error writing entry" >&2; exit 1; fi
for f in $(entries); do
  o=$(sed -n 's/^options //p' "$f")
  [ -n "$add" ] && o=$(add_args "$o" "$add")
  [ -n "$del" ] && o=$(remove_args "$o" "$del")
  set_options "$f" "$o"
done
# grubby-bls: --update-kernel=ALL also changes GRUB_CMDLINE_LINUX in /etc/default/grub, so a
# later grub2-mkconfig (or a kernel update that copies it) keeps the arguments.
G=/etc/default/grub
if [ -f "$G" ] && grep -q '^GRUB_CMDLINE_LINUX=' "$G"; then
  o=$(sed -n 's/^GRUB_CMDLINE_LINUX="\(.*\)"$/\1/p' "$G" | tail -n 1)
  [ -n "$add" ] && o=$(add_args "$o" "$add")
  [ -n "$del" ] && o=$(remove_args "$o" "$del")
  new=$(awk -v o="$o" '/^GRUB_CMDLINE_LINUX=/{print "GRUB_CMDLINE_LINUX=\"" o "\""; next} {print}' "$G")
  printf '%s\n' "$new" >"$G"
fi
"""

FIPS_MODE_SETUP = r"""
fw_log "$@"
[ -n "${FIPS_MODE_SETUP_SKIP_WARNING:-}" ] && fw_note "FIPS_MODE_SETUP_SKIP_WARNING=$FIPS_MODE_SETUP_SKIP_WARNING"
policy() { update-crypto-policies --show; }
# --enable and --disable warn and wait 15 seconds for Ctrl-C unless FIPS_MODE_SETUP_SKIP_WARNING
# is set (upstream since 2024). The wait is $S/countdown seconds here so a test that forgets the
# variable stays short but is still logged as having waited.
countdown() {
  [ -n "${FIPS_MODE_SETUP_SKIP_WARNING:-}" ] && return 0
  fw_note "countdown 15s (FIPS_MODE_SETUP_SKIP_WARNING not set)"
  echo "*** PRESS CONTROL-C WITHIN 15 SECONDS TO ABORT... ***"
  sleep "$(cat "$S/countdown" 2>/dev/null || echo 15)"
}
boot=""; [ -s "$S/boot-uuid" ] && boot=" boot=UUID=$(cat "$S/boot-uuid")"
say() { [ "$mode" = --check ] && echo "$@"; return 0; }
mode=${1:-}
case $mode in
  --check | --is-enabled)
    cur=$(policy)
    case $cur in FIPS | FIPS:*) based="is based on" ;; *) based="neither is the FIPS policy nor is based on" ;; esac
    if [ "$(fw_fips)" = 1 ]; then
      say "FIPS mode is enabled."
      say "The current crypto policy ($cur) $based the FIPS policy."
      case $cur in FIPS | FIPS:*) exit 0 ;; esac
      say "Inconsistent state detected."; exit 1
    fi
    say "FIPS mode is disabled."
    say "The current crypto policy ($cur) $based the FIPS policy."
    case $cur in FIPS | FIPS:*) say "Inconsistent state detected."; exit 1 ;; esac
    [ "$mode" = --is-enabled ] && exit 2
    exit 0 ;;
  --enable)
    if [ -e "$S/luks-argon2" ]; then
      echo "The system has an encrypted block device with an Argon2 PBKDF; FIPS mode cannot open it." >&2
      exit 76
    fi
    countdown
    echo "Kernel initramdisks are being regenerated. This might take some time."
    mkdir -p /etc/dracut.conf.d && printf 'add_dracutmodules+=" fips "\n' >/etc/dracut.conf.d/40-fips.conf
    case $(policy) in FIPS | FIPS:*) ;; *) update-crypto-policies --no-reload --set FIPS >/dev/null ;; esac
    echo "Setting system policy to FIPS"
    grubby --update-kernel=ALL --args="fips=1$boot"
    echo "FIPS mode will be enabled."
    echo "Please reboot the system for the setting to take effect." ;;
  --disable)
    countdown
    rm -f /etc/dracut.conf.d/40-fips.conf
    echo "Kernel initramdisks are being regenerated. This might take some time."
    update-crypto-policies --no-reload --set DEFAULT >/dev/null
    echo "Setting system policy to DEFAULT"
    grubby --update-kernel=ALL --args="fips=0$boot"
    echo "FIPS mode will be disabled."
    echo "Please reboot the system for the setting to take effect." ;;
  *) echo "Usage: fips-mode-setup --enable|--disable|--check|--is-enabled" >&2; exit 2 ;;
esac
"""

RPM = (
    r"""
fw_log "$@"
DB="""
    + PKG_DB
    + r"""
[ "${1:-}" = -q ] || { echo "rpm stand-in: unsupported: $*" >&2; exit 2; }
shift
rc=0
for p in "$@"; do
  if grep -q "^$p " "$DB" 2>/dev/null; then
    grep "^$p " "$DB" | while read -r n v; do echo "$n-$v"; done
  else
    echo "package $p is not installed"; rc=1
  fi
done
exit $rc
"""
)

DNF = (
    r"""
fw_log "$@"
DB="""
    + PKG_DB
    + r"""
K="""
    + TUXCARE_KERNEL
    + r"""
O="""
    + TUXCARE_OPENSSL
    + r"""
URL=https://repo.tuxcare.com/tuxcare/tuxcare-release-latest-9.2.noarch.rpm
args=()
for a in "$@"; do case $a in -y | --assumeyes | -q | --quiet) ;; *) args+=("$a") ;; esac; done
installed() { grep -q "^$1 " "$DB" 2>/dev/null; }
install_kernel() {  # like kernel-install: the image plus a BLS entry copied from the default
  local e=/boot/loader/entries d new
  d=$(grubby --default-kernel); d=${d#/boot/vmlinuz-}
  printf 'stand-in kernel image %s\n' "$1" >"/boot/vmlinuz-$1"
  new="$e/$(cat /etc/machine-id)-$1.conf"
  sed "s/$d/$1/g" "$(grep -l "^version $d\$" "$e"/*.conf | head -n 1)" >"$new"
  # UPDATEDEFAULT=yes: the new kernel boots next
  sed -i "s/^saved_entry=.*/saved_entry=$(basename "$new" .conf)/" /boot/grub2/grubenv
}
case ${args[0]:-} in
  install)
    for p in "${args[@]:1}"; do
      [ "$p" = "$URL" ] || { echo "Error: Unable to find a match: $p" >&2; exit 1; }
      installed tuxcare-release && { echo "Package tuxcare-release-9.2-3.el9.noarch is already installed."; continue; }
      printf 'tuxcare-release 9.2-3.el9.noarch\n' >>"$DB"
      mkdir -p /etc/pki/rpm-gpg
      printf '[tuxcare-esu]\nname=TuxCare ESU $tuxcare_releasever\nbaseurl=https://repo.tuxcare.com/tuxcare/$tuxcare_releasever/$tuxcare_token/esu/$basearch/\nenabled=1\ngpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-TuxCare\n' \
        >/etc/yum.repos.d/tuxcare-esu.repo
      printf -- '-----BEGIN PGP PUBLIC KEY BLOCK-----\nstand-in TuxCare key\n-----END PGP PUBLIC KEY BLOCK-----\n' \
        >/etc/pki/rpm-gpg/RPM-GPG-KEY-TuxCare
      printf 'Installed:\n  tuxcare-release-9.2-3.el9.noarch\n\nComplete!\n'
    done ;;
  remove | erase)
    for p in "${args[@]:1}"; do
      installed "$p" || { echo "No match for argument: $p"; echo "No packages marked for removal."; continue; }
      sed -i "/^$p /d" "$DB"
      [ "$p" = tuxcare-release ] && rm -f /etc/yum.repos.d/tuxcare-esu.repo /etc/pki/rpm-gpg/RPM-GPG-KEY-TuxCare
      printf 'Removed:\n  %s\n\nComplete!\n' "$p"
    done ;;
  upgrade | update)
    if installed tuxcare-release && [ -s /etc/dnf/vars/tuxcare_token ] \
      && grep -qs '^baseurl=https://repo.tuxcare.com/' /etc/yum.repos.d/almalinux*.repo; then
      grep -q "^openssl $O\$" "$DB" || sed -i "s/^openssl .*/openssl $O/" "$DB"
      if ! grep -q "^kernel $K\$" "$DB"; then printf 'kernel %s\n' "$K" >>"$DB"; install_kernel "$K"; fi
      printf 'Upgraded:\n  openssl-%s\nInstalled:\n  kernel-%s\n\nComplete!\n' "$O" "$K"
    else
      printf 'Dependencies resolved.\nNothing to do.\nComplete!\n'
    fi ;;
  *) echo "dnf stand-in: unsupported: $*" >&2; exit 2 ;;
esac
"""
)

TUXCTL = (
    r"""
fw_log "$@"
grep -q '^tuxcare-release ' """
    + PKG_DB
    + r""" 2>/dev/null || { echo "bash: tuxctl: command not found" >&2; exit 127; }
registered() { [ -s /etc/dnf/vars/tuxcare_token ]; }
key="" force=0
while [ $# -gt 0 ]; do
  case $1 in
    -v)
      if registered; then echo "Server is registered with token $(cat /etc/dnf/vars/tuxcare_token)"; exit 0; fi
      echo "Server is not registered"; exit 1 ;;
    --license-key | -l) key=${2:-}; shift ;;
    --force) force=1 ;;
    --fips) ;;
    -d) rm -f /etc/dnf/vars/tuxcare_token /etc/dnf/vars/tuxcare_releasever; echo "Server unregistered"; exit 0 ;;
    *) echo "tuxctl stand-in: unsupported: $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$key" ] || { echo "usage: tuxctl --license-key KEY" >&2; exit 2; }
if registered && [ $force = 0 ]; then echo "Server is already registered"; exit 0; fi
[ "$(printf '%s' "$key" | sha256sum | cut -c1-64)" = "$(cat "$S/tuxcare-key.sha256" 2>/dev/null)" ] \
  || { echo "License key is not valid" >&2; exit 1; }
echo "Checking OS and architecture: AlmaLinux 9.2 x86_64"
echo "Registering to CloudLinux Network"
mkdir -p /etc/dnf/vars
printf '%s\n' "$key" >/etc/dnf/vars/tuxcare_token
printf '9.2\n' >/etc/dnf/vars/tuxcare_releasever
sed -i -e 's|^mirrorlist|# mirrorlist|' \
  -e 's|^# baseurl=https://repo.almalinux.org/almalinux/$releasever/|baseurl=https://repo.tuxcare.com/almalinux/$tuxcare_releasever/$tuxcare_token/|' \
  /etc/yum.repos.d/almalinux*.repo
echo "TuxCare installed successfully"
"""
)

TOOLS_RHEL = {
    "fips-mode-setup": FIPS_MODE_SETUP,
    "update-crypto-policies": UPDATE_CRYPTO_POLICIES,
    "grubby": GRUBBY,
    "rpm": RPM,
}
TOOLS_ALMA = {**TOOLS_RHEL, "dnf": DNF, "tuxctl": TUXCTL}
