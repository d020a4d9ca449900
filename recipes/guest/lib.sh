# fipswizard guest prelude: prepended to every recipe snippet (bash, no network).
# Exit codes: 0 done/ok, 10 needed, 20 refused (reason on stdout), anything else = error.
# Output: one fact per line, key=value (Run Command keeps only the last 4 KB).
set -u
umask 022
export LC_ALL=C PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"
FW_STATE=/var/lib/fipswizard
FW_BACKUP_DIR=$FW_STATE/backup

fw_refuse() { printf 'refused=%s\n' "$*"; exit 20; }
fw_needed() { printf 'needed=%s\n' "$*"; exit 10; }
fw_done() { printf 'done=%s\n' "$*"; exit 0; }
fw_fail() { printf 'error=%s\n' "$*"; exit 1; }

# fw_backup FILE: keep the first copy of FILE (bytes, mode, symlink) for rollback; a missing
# FILE is recorded as absent so that fw_restore deletes it again. Never overwrites a backup.
fw_backup() {
  local b="$FW_BACKUP_DIR$1"
  [ -e "$b" ] || [ -L "$b" ] || [ -e "$b.fw-absent" ] && return 0
  mkdir -p "${b%/*}" || return 1
  if [ -e "$1" ] || [ -L "$1" ]; then
    cp -a "$1" "$b.fw-tmp" && mv -f "$b.fw-tmp" "$b"
  else
    : >"$b.fw-absent"
  fi
}

fw_has_backup() { [ -e "$FW_BACKUP_DIR$1" ] || [ -L "$FW_BACKUP_DIR$1" ] || [ -e "$FW_BACKUP_DIR$1.fw-absent" ]; }

# fw_restore FILE: put the backup back (atomic rename), then drop the backup; 1 if none.
fw_restore() {
  local b="$FW_BACKUP_DIR$1"
  if [ -e "$b.fw-absent" ]; then
    rm -f "$1" && rm -f "$b.fw-absent" || return 1
  elif [ -e "$b" ] || [ -L "$b" ]; then
    cp -a "$b" "$1.fw-tmp" && mv -f "$1.fw-tmp" "$1" && rm -f "$b" || return 1
  else
    return 1
  fi
  fw_prune "${b%/*}"
}

# fw_forget FILE: drop the backup of FILE without restoring it (e.g. the file is gone).
fw_forget() { rm -f "$FW_BACKUP_DIR$1" "$FW_BACKUP_DIR$1.fw-absent" && fw_prune "${FW_BACKUP_DIR}${1%/*}"; }

# fw_prune DIR: remove emptied backup directories, up to and including $FW_STATE.
fw_prune() {
  local d=$1
  while [ "${#d}" -ge "${#FW_STATE}" ] && rmdir "$d" 2>/dev/null; do d=${d%/*}; done
  return 0
}

# fw_version_ge A B: true when dotted version A >= B (numeric per field; missing fields are 0).
fw_version_ge() {
  local IFS=. i x y
  local -a a b
  read -ra a <<<"$1"
  read -ra b <<<"$2"
  for ((i = 0; i < ${#a[@]} || i < ${#b[@]}; i++)); do
    x=${a[i]:-0} y=${b[i]:-0}
    x=${x%%[!0-9]*} y=${y%%[!0-9]*}
    ((10#${x:-0} > 10#${y:-0})) && return 0
    ((10#${x:-0} < 10#${y:-0})) && return 1
  done
  return 0
}

fw_mark_reboot() { mkdir -p "$FW_STATE" && : >"$FW_STATE/reboot-required"; }
fw_clear_reboot() { rm -f "$FW_STATE/reboot-required"; rmdir "$FW_STATE" 2>/dev/null; return 0; }

fw_fips_enabled() { cat /proc/sys/crypto/fips_enabled 2>/dev/null || echo 0; }

# fw_conf_get FILE KEY: last uncommented `KEY=value` in FILE (waagent.conf, os-release style).
fw_conf_get() {
  sed -n "s/^[[:space:]]*${2//./\\.}[[:space:]]*=[[:space:]]*//p" "$1" 2>/dev/null \
    | tail -n 1 | sed 's/#.*//; s/[[:space:]]*$//; s/^"\(.*\)"$/\1/'
}

fw_os_id() { fw_conf_get /etc/os-release ID; }

# fw_agent_versions: sets FW_DAEMON_AGENT and FW_GOAL_AGENT from `waagent --version`.
fw_agent_versions() {
  local out
  out=$(waagent --version 2>/dev/null) || true
  FW_DAEMON_AGENT=$(printf '%s\n' "$out" | sed -n 's/^WALinuxAgent-\([0-9][0-9.]*\).*/\1/p' | head -n 1)
  FW_GOAL_AGENT=$(printf '%s\n' "$out" | sed -n 's/^Goal state agent: *\([0-9][0-9.]*\).*/\1/p' | head -n 1)
}
