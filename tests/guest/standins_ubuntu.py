# ruff: noqa: E501  (the module embeds shell scripts whose lines are kept whole)
"""Stand-in for Ubuntu's `pro` client (status, attach, enable/disable fips-updates).

State lives where pro keeps it: the machine token under /var/lib/ubuntu-advantage/private, the
fips-updates apt source and pin, the FIPS metapackage and kernel in /var/lib/dpkg/status (read by
the host's real dpkg-query), /etc/default/grub.d/99-fips.cfg, and notices under
/var/lib/ubuntu-advantage/notices (cleared at boot, like pro's reboot commands do).
"""

from __future__ import annotations

NOTICE_ENABLE = "FIPS support requires system reboot to complete configuration."
NOTICE_DISABLE = "Disabling FIPS requires system reboot to complete operation."

PRO = (
    r"""
fw_log "$@"
MT=/var/lib/ubuntu-advantage/private/machine-token.json
N=/var/lib/ubuntu-advantage/notices
PREF=/etc/apt/preferences.d/ubuntu-fips-updates
GRUB=/etc/default/grub.d/99-fips.cfg
DPKG=/var/lib/dpkg/status
series=$(fw_os VERSION_CODENAME)
if [ "$(fw_os VERSION_ID)" = 22.04 ]; then SRC=/etc/apt/sources.list.d/ubuntu-fips-updates.list
else SRC=/etc/apt/sources.list.d/ubuntu-fips-updates.sources; fi
attached() { [ -s "$MT" ]; }
do_attach() {
  mkdir -p "${MT%/*}" && chmod 700 "${MT%/*}"
  printf '{"machineToken": "stand-in-machine-token", "contractName": "Ubuntu Pro"}\n' >"$MT"
  chmod 600 "$MT"
  echo "This machine is now attached to 'Ubuntu Pro'"
}
dpkg_add() {  # NAME VERSION: a stanza the way dpkg writes installed packages
  grep -q "^Package: $1\$" "$DPKG" && return 0
  printf 'Package: %s\nStatus: install ok installed\nPriority: optional\nSection: misc\nInstalled-Size: 1\nMaintainer: Canonical\nArchitecture: amd64\nVersion: %s\nDescription: stand-in package\n\n' \
    "$1" "$2" >>"$DPKG"
}
dpkg_del() {
  local new; new=$(awk -v p="Package: $1" 'BEGIN { RS = ""; ORS = "\n\n" } { split($0, l, "\n"); if (l[1] != p) print }' "$DPKG")
  printf '%s\n\n' "$new" >"$DPKG"
}
notices() {
  local f sep="" out="["
  for f in "$N"/*; do [ -f "$f" ] && out="$out$sep[\"\", \"$(cat "$f")\"]" && sep=", "; done
  printf '%s]' "$out"
}
status_json() {
  local fu=disabled details="" ex=inactive n
  if ! attached; then
    printf '{"_schema_version": "0.1", "version": "35.1", "attached": false, "execution_status": "inactive", "execution_details": "No Ubuntu Pro operations are running", "notices": [], "services": [{"name": "esm-infra", "description": "Expanded Security Maintenance for Infrastructure", "description_override": null, "available": "yes"}, {"name": "fips-updates", "description": "FIPS compliant crypto packages with stable security updates", "description_override": null, "available": "yes"}], "errors": [], "warnings": [], "result": "success"}\n'
    return
  fi
  if [ -e "$SRC" ]; then
    if [ "$(fw_fips)" = 1 ]; then fu=enabled; else details="/proc/sys/crypto/fips_enabled is not set to 1"; fi
  fi
  n=$(notices); [ "$n" = "[]" ] || ex=reboot-required
  printf '{"_schema_version": "0.1", "version": "35.1", "attached": true, "execution_status": "%s", "execution_details": "", "notices": %s, "services": [{"name": "esm-infra", "description": "Expanded Security Maintenance for Infrastructure", "entitled": "yes", "status": "enabled", "status_details": "", "available": "yes", "blocked_by": [], "warning": null}, {"name": "fips-updates", "description": "FIPS compliant crypto packages with stable security updates", "entitled": "yes", "status": "%s", "status_details": "%s", "available": "yes", "blocked_by": [], "warning": null}], "errors": [], "warnings": [], "result": "success"}\n' \
    "$ex" "$n" "$fu" "$details"
}
assume=0 fmt="" wait=0 cfg=""
for a in "$@"; do case $a in --assume-yes) assume=1 ;; --wait) wait=1 ;; esac; done
case ${1:-} in
  status)
    if [ $wait = 1 ] && ! attached && [ -e "$S/pro-auto-attach" ]; then do_attach >/dev/null; fi
    case " $* " in *" json "*) status_json ;; *) attached && echo "attached" || echo "not attached" ;; esac ;;
  attach)
    [ "${2:-}" = --attach-config ] && cfg=${3:-}
    if [ -n "$cfg" ]; then
      [ -f "$cfg" ] || { echo "Could not read the attach config $cfg" >&2; exit 1; }
      fw_note "attach-config-mode=$(stat -c %a "$cfg")"
      token=$(sed -n 's/^token: *//p' "$cfg")
    else
      token=${2:-}
    fi
    attached && { echo "This machine is already attached to 'Ubuntu Pro'"; exit 2; }
    [ "$(printf '%s' "$token" | sha256sum | cut -c1-64)" = "$(cat "$S/pro-token.sha256" 2>/dev/null)" ] \
      || { echo "Invalid token. See https://ubuntu.com/pro/dashboard" >&2; exit 1; }
    do_attach ;;
  enable | disable)
    [ "${2:-}" = fips-updates ] || { echo "pro stand-in: only fips-updates" >&2; exit 2; }
    attached || { echo "This machine is not attached to an Ubuntu Pro subscription." >&2; exit 1; }
    [ $assume = 1 ] || { echo "Are you sure? (y/N) "; echo "Operation cancelled by user."; exit 1; }
    fk=$(cat "$S/fips-kernel")
    if [ "$1" = enable ]; then
      [ -e "$SRC" ] && { echo "FIPS Updates is already enabled."; exit 1; }
      echo "One moment, checking your subscription first"
      if [ "$SRC" = /etc/apt/sources.list.d/ubuntu-fips-updates.list ]; then
        printf 'deb https://esm.ubuntu.com/fips-updates/ubuntu %s-updates main\n# deb-src https://esm.ubuntu.com/fips-updates/ubuntu %s-updates main\n' "$series" "$series" >"$SRC"
      else
        printf 'Types: deb\nURIs: https://esm.ubuntu.com/fips-updates/ubuntu\nSuites: %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/ubuntu-pro-fips-updates.gpg\n' "$series" >"$SRC"
      fi
      printf 'Package: *\nPin: release o=UbuntuESM, n=%s\nPin-Priority: 1001\n' "$series" >"$PREF"
      echo "Updating FIPS Updates package lists"
      echo "Installing FIPS Updates packages"
      dpkg_add ubuntu-azure-fips 1.0.10
      dpkg_add "linux-image-$fk" "$fk"
      printf 'stand-in kernel image %s\n' "$fk" >"/boot/vmlinuz-$fk"
      printf 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT fips=1"\n' >"$GRUB"
      printf '%s\n' "$fk" >"$S/kernel-next"
      mkdir -p "$N" && printf '%s' '"""
    + NOTICE_ENABLE
    + r"""' >"$N/fips_reboot_required"
      echo "FIPS Updates enabled"
      echo "A reboot is required to complete install."
    else
      [ -e "$SRC" ] || { echo "FIPS Updates is not currently enabled"; exit 1; }
      rm -f "$SRC" "$PREF" "$GRUB" "$N/fips_reboot_required"
      dpkg_del ubuntu-azure-fips
      mkdir -p "$N" && printf '%s' '"""
    + NOTICE_DISABLE
    + r"""' >"$N/fips_disable_reboot_required"
      echo "Updating package lists"
      echo "A reboot is required to complete disable operation."
    fi ;;
  detach) rm -f "$MT"; echo "This machine is now detached." ;;
  *) echo "pro stand-in: unsupported: $*" >&2; exit 2 ;;
esac
"""
)

TOOLS = {"pro": PRO}
