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

# fw_crypto_policy FILE: the policy named in /etc/crypto-policies/config the way
# update-crypto-policies reads it: '#' starts a comment, blank lines are skipped, the first
# remaining word wins. The packaged file starts with a 17-line comment header and names DEFAULT
# on line 18 (crypto-policies RPM; insights-core's CryptoPoliciesConfig test fixture).
fw_crypto_policy() {
  sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$1" 2>/dev/null | grep -m 1 -v '^$'
}

# /etc/waagent.conf as WALinuxAgent reads it (azurelinuxagent/common/conf.py,
# ConfigurationProvider.load and get_switch): a line is a comment only when its FIRST character
# is '#'; the key is the text before the first '=', stripped; the value is cut at the first
# '#', then stripped of quotes and blanks; the last line for a key wins; "None" is unset.
# A switch is on for y/Y, off for n/N, and anything else ("yes", "no", "") means the default.
FW_WAAGENT_AWK='
function parse(line,   eq) {
  if (line ~ /^#/ || (eq = index(line, "=")) == 0) return 0
  K = substr(line, 1, eq - 1); gsub(/^[ \t\r]+|[ \t\r]+$/, "", K)
  V = substr(line, eq + 1); sub(/#.*/, "", V); gsub(/^[" ]+|[" ]+$/, "", V)
  gsub(/^[ \t\r]+|[ \t\r]+$/, "", V)
  return 1
}'

# fw_waagent_get FILE KEY: the value the agent reads for KEY; exit 1 when unset.
fw_waagent_get() {
  awk -v k="$2" "$FW_WAAGENT_AWK"'
    parse($0) && K == k { v = V; found = (V != "None") }
    END { if (found) print v; exit !found }' "$1" 2>/dev/null
}

# fw_waagent_switch FILE KEY DEFAULT: y or n, as get_switch answers it.
fw_waagent_switch() {
  case "$(fw_waagent_get "$1" "$2")" in [yY]) echo y ;; [nN]) echo n ;; *) echo "$3" ;; esac
}

# fw_agent_autoupdate FILE: sets FW_AU_ENABLED (AutoUpdate.Enabled, default y) and FW_AU_LATEST
# (AutoUpdate.UpdateToLatestVersion, which defaults to AutoUpdate.Enabled in agents >= 2.10).
fw_agent_autoupdate() {
  FW_AU_ENABLED=$(fw_waagent_switch "$1" AutoUpdate.Enabled y)
  FW_AU_LATEST=$(fw_waagent_switch "$1" AutoUpdate.UpdateToLatestVersion "$FW_AU_ENABLED")
}

# fw_waagent_turn_on FILE: FILE on stdout with the deciding line of each auto-update switch the
# agent reads as off set to y (quotes dropped; indentation and a trailing comment kept).
fw_waagent_turn_on() {
  awk "$FW_WAAGENT_AWK"'
    FNR == NR { if (parse($0)) last[K] = FNR; next }
    parse($0) && (K == "AutoUpdate.Enabled" || K == "AutoUpdate.UpdateToLatestVersion") \
      && last[K] == FNR && tolower(V) == "n" {
      eq = index($0, "="); rest = substr($0, eq + 1); h = index(rest, "#")
      va = h ? substr(rest, 1, h - 1) : rest; com = h ? substr(rest, h) : ""
      lead = va; sub(/[^ \t].*$/, "", lead); trail = va; sub(/^.*[^ \t\r]/, "", trail)
      print substr($0, 1, eq) lead "y" trail com; next
    }
    { print }' "$1" "$1"
}

# fw_agent_versions: sets FW_DAEMON_AGENT and FW_GOAL_AGENT from `waagent --version`.
fw_agent_versions() {
  local out
  out=$(waagent --version 2>/dev/null) || true
  FW_DAEMON_AGENT=$(printf '%s\n' "$out" | sed -n 's/^WALinuxAgent-\([0-9][0-9.]*\).*/\1/p' | head -n 1)
  FW_GOAL_AGENT=$(printf '%s\n' "$out" | sed -n 's/^Goal state agent: *\([0-9][0-9.]*\).*/\1/p' | head -n 1)
}

# fw_fips_mode_left WHY: a RHEL-family FIPS rollback stopped part-way. Print what is left
# (policy, boot entries, /etc/default/grub, running kernel) and how to finish, then fail; no
# reboot is marked, so nothing boots into a half-undone state on its own.
fw_fips_mode_left() {
  local nf
  echo "left_crypto_policy=$(update-crypto-policies --show 2>/dev/null || echo unknown)"
  nf=$(grubby --info=ALL 2>/dev/null | grep '^args=' | grep -cE '[" ]fips=1[" ]')
  echo "left_boot_entries_with_fips=$nf"
  grep -qE '^GRUB_CMDLINE_LINUX=.*[" ]fips=1' /etc/default/grub 2>/dev/null \
    && echo "left_default_grub=GRUB_CMDLINE_LINUX has fips=1"
  echo "left_running_kernel_fips_enabled=$(fw_fips_enabled)"
  echo "finish=FIPS_MODE_SETUP_SKIP_WARNING=1 fips-mode-setup --disable; grubby --update-kernel=ALL --remove-args=fips; update-crypto-policies --set DEFAULT; then reboot (or re-run fipswizard rollback)"
  fw_fail "$1; FIPS mode is only partly undone (see left_* above)"
}

# fw_fips_mode_rollback: undo `fips-mode-setup --enable` on RHEL 9 / AlmaLinux 9. --disable sets
# DEFAULT and puts fips=0 on every entry (fedora-crypto-policies fips-mode-setup, RHEL-9 MR !148);
# then the fips argument goes, and the files backed up by apply come back byte for byte: the BLS
# entries (also drops boot=), /etc/default/grub (grubby rewrote GRUB_CMDLINE_LINUX) and the
# policy config with its comment header. A policy other than DEFAULT is set back first.
fw_fips_mode_rollback() {
  local cfg=/etc/crypto-policies/config orig="" out rc b e
  fw_has_backup "$cfg" && orig=$(fw_crypto_policy "$FW_BACKUP_DIR$cfg")
  # Unattended: without the variable the script waits through a 15-second Ctrl-C countdown.
  out=$(FIPS_MODE_SETUP_SKIP_WARNING=1 fips-mode-setup --disable 2>&1); rc=$?
  printf '%s\n' "$out" | tail -n 4
  [ "$rc" = 0 ] || fw_fips_mode_left "fips-mode-setup --disable failed with exit code $rc"
  grubby --update-kernel=ALL --remove-args=fips >/dev/null \
    || fw_fips_mode_left "grubby --update-kernel=ALL --remove-args=fips failed"
  for b in "$FW_BACKUP_DIR"/boot/loader/entries/*.conf; do
    [ -e "$b" ] || continue
    e=${b#"$FW_BACKUP_DIR"}
    if [ -e "$e" ]; then fw_restore "$e" || fw_fips_mode_left "cannot restore $e"; else fw_forget "$e"; fi
  done
  if fw_has_backup /etc/default/grub; then
    fw_restore /etc/default/grub || fw_fips_mode_left "cannot restore /etc/default/grub"
  fi
  if [ -n "$orig" ] && [ "$orig" != "$(update-crypto-policies --show 2>/dev/null)" ]; then
    update-crypto-policies --set "$orig" >/dev/null \
      || fw_fips_mode_left "cannot set the crypto policy back to $orig"
  fi
  if fw_has_backup "$cfg"; then fw_restore "$cfg" || fw_fips_mode_left "cannot restore $cfg"; fi
  echo "crypto_policy=$(update-crypto-policies --show 2>/dev/null)"
  fw_mark_reboot
  echo "reboot_required=yes"
}

# fw_flatcar_accepted: the operator chose guest FIPS without extension support on Flatcar
# (run recipe key flatcar_extensions = "accept-unsupported", passed as FW_FLATCAR_EXTENSIONS);
# the default, "update-agent", turns the agent's auto-update on like on the other distros.
fw_flatcar_accepted() {
  [ "$(fw_os_id)" = flatcar ] && [ "${FW_FLATCAR_EXTENSIONS:-update-agent}" = accept-unsupported ]
}

# fw_agent_restart SERVICE: have systemd restart the agent, without waiting for it. The script
# runs under Run Command, which the agent runs: `--no-block` only queues the restart job in
# systemd (it runs outside this script), so the script goes on and its Run Command (several
# steps in one, guest/batch.py) still returns its output. Later checks poll for the result.
fw_agent_restart() {
  systemctl --no-block restart "$1"
}

# fw_agent_service: the unit to restart (FW_SERVICE from the recipe, else detected).
fw_agent_service() {
  if [ -n "${FW_SERVICE:-}" ]; then echo "$FW_SERVICE"
  elif systemctl cat walinuxagent.service >/dev/null 2>&1; then echo walinuxagent
  else echo waagent; fi
}
