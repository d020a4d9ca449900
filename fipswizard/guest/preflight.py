"""Preflight: what would lock the operator out or break the VM, found before any change.

A "refusal" stops the guest steps for that VM until the operator fixes the cause; a
"warning" is shown and the run goes on. Facts and sources: reference guest-os.md 0.3, 1, 2.7,
4.6; azure-platform.md 9.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from fipswizard.guest.detect import GuestFacts, SshKey
from fipswizard.guest.protocol import FLATCAR_EXTENSIONS
from fipswizard.guest.recipes import GuestRecipe
from fipswizard.versions import MIN_AGENT, older

# Run recipe key flatcar_extensions (FLATCAR_EXTENSIONS): "update-agent" (default: turn the
# agent's auto-update on) or "accept-unsupported" (guest FIPS without extension support).
FIPS_CIPHERS = "aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"


@dataclass(frozen=True)
class Finding:
    level: str  # "warning" | "refusal"
    code: str
    message: str

    @property
    def refusal(self) -> bool:
        return self.level == "refusal"


def preflight(
    facts: GuestFacts,
    recipe: GuestRecipe | None,
    *,
    secrets: Collection[str] = (),
    min_agent: str = MIN_AGENT,
    flatcar_extensions: str = FLATCAR_EXTENSIONS[0],
) -> list[Finding]:
    """Every finding for this guest; `secrets` names the secrets the run will provide;
    `flatcar_extensions` is the run recipe's choice for Flatcar (FLATCAR_EXTENSIONS)."""
    found: list[Finding] = []
    if facts.rhel_family:
        found += _ssh_keys(facts)
    if facts.rhel_family or facts.os_id == "flatcar":
        found += _ciphers(facts)
    if facts.luks_pbkdf and any(p.startswith("argon2") for p in facts.luks_pbkdf):
        found.append(
            Finding(
                "refusal",
                "luks-argon2",
                (
                    "a LUKS volume uses an Argon2 key derivation "
                    f"({', '.join(facts.luks_pbkdf)}), which "
                    "cannot be opened in FIPS mode, so the VM would not boot or mount it. "
                    "Convert each "
                    "keyslot first: cryptsetup luksConvertKey --pbkdf pbkdf2 DEVICE"
                ),
            )
        )
    if facts.os_id == "ubuntu":
        found += _ubuntu(facts, secrets)
    workaround = recipe is not None and any("workaround" in s.id for s in recipe.steps)
    turns_on = recipe is not None and any(
        st.recipe == "agent" and st.id == "auto-update" for st in recipe.steps
    )
    if facts.os_id == "flatcar" and flatcar_extensions == FLATCAR_EXTENSIONS[1]:
        return found + _flatcar_accepted(facts, min_agent)
    found += _agent(facts, min_agent, workaround, turns_on)
    return found


def _flatcar_accepted(facts: GuestFacts, min_agent: str) -> list[Finding]:
    goal = facts.agent_goal_state
    if goal is not None and not older(goal, min_agent):
        return []
    return [
        Finding(
            "warning",
            "extensions-unsupported",
            (
                f"the goal-state agent is {goal or 'unknown'} (Flatcar's oem-azure sysext, "
                "auto-update "
                'off) and you chose flatcar_extensions = "accept-unsupported": the guest gets '
                "FIPS "
                f"mode without Azure's extension support, which needs {min_agent}; extensions with "
                "protected settings (VMAccess, CustomScript) will likely fail"
            ),
        )
    ]


def _ssh_keys(facts: GuestFacts) -> list[Finding]:
    """RHEL's FIPS policy accepts only ECDSA and RSA >= 2048 keys: no ed25519, no DSA, and no
    security-key types (sk-ecdsa-sha2-nistp256@openssh.com, sk-ssh-ed25519@openssh.com), which
    its PubkeyAcceptedAlgorithms list leaves out (fedora-crypto-policies
    tests/outputs/FIPS-opensshserver.txt; RequiredRSASize 2048)."""
    bad: dict[str, list[str]] = {}
    good: set[str] = set()
    unsized: list[str] = []
    for key in facts.ssh_keys:
        if key.type == "ecdsa" or (key.type == "rsa" and (key.bits or 0) >= 2048):
            good.add(key.user)
        else:
            bad.setdefault(key.user, []).append(_describe(key))
        if key.type == "rsa" and key.bits is None:
            unsized.append(key.user)
    found: list[Finding] = []
    locked = sorted(u for u in bad if u not in good)
    if locked:
        keys = "; ".join(f"{u}: {', '.join(bad[u])}" for u in locked)
        found.append(
            Finding(
                "refusal",
                "ssh-keys",
                (
                    "after the FIPS reboot sshd rejects ed25519, DSA, security-key (sk-*) and "
                    "RSA keys "
                    f"under 2048 bits, so "
                    f"these users would be locked out ({keys}). Add an ECDSA or RSA >= 2048-bit "
                    "key to "
                    "their ~/.ssh/authorized_keys (e.g. `ssh-keygen -t ecdsa -b 384`), then re-run"
                ),
            )
        )
    partly = sorted(u for u in bad if u in good)
    if partly:
        found.append(
            Finding(
                "warning",
                "ssh-keys",
                (
                    "these keys stop working after the FIPS reboot (each user keeps another "
                    "usable key): " + "; ".join(f"{u}: {', '.join(bad[u])}" for u in partly)
                ),
            )
        )
    if unsized:
        found.append(
            Finding(
                "warning",
                "ssh-keys",
                (
                    f"could not read the size of RSA keys of {', '.join(sorted(set(unsized)))}; "
                    "keys "
                    "under 2048 bits stop working in FIPS mode"
                ),
            )
        )
    return found


def _describe(key: SshKey) -> str:
    return f"{key.type} {key.bits}" if key.bits else key.type


def _ciphers(facts: GuestFacts) -> list[Finding]:
    """chacha20 in `sshd -T` matters where nothing replaces the list in FIPS mode (Flatcar). On
    RHEL sshd takes its list from the crypto-policies back-end, and the FIPS policy has no
    chacha20, so it is noise there unless the admin set Ciphers in sshd_config(.d) itself."""
    if facts.rhel_family and not facts.sshd_ciphers_explicit:
        return []
    dropin = f"/etc/ssh/sshd_config.d/40-fips.conf with `Ciphers {FIPS_CIPHERS}`"
    if facts.sshd_ciphers is None:
        if facts.os_id != "flatcar":
            return []
        return [
            Finding(
                "warning",
                "sshd-ciphers",
                (
                    "could not read sshd's cipher list; OpenSSH's default list starts with "
                    "chacha20-poly1305, which fails under FIPS (`ssh_dispatch_run_fatal ... "
                    "invalid "
                    f"argument`). Add {dropin}, test with `sshd -t`, and keep the serial "
                    "console at hand"
                ),
            )
        ]
    if not any("chacha20" in c for c in facts.sshd_ciphers):
        return []
    extra = (
        " sshd_config sets `Ciphers` itself, so the FIPS crypto policy does not replace "
        "the list: remove that line, or add the drop-in below."
        if facts.rhel_family
        else ""
    )
    return [
        Finding(
            "warning",
            "sshd-ciphers",
            (
                "sshd offers chacha20-poly1305, which is not FIPS-approved; with it configured "
                "sshd "
                "drops connections in FIPS mode (`ssh_dispatch_run_fatal ... invalid argument`)."
                f"{extra} Add {dropin}, check with `sshd -t`, and keep the serial console at hand"
            ),
        )
    ]


def _ubuntu(facts: GuestFacts, secrets: Collection[str]) -> list[Finding]:
    found: list[Finding] = []
    ed25519 = sorted({k.user for k in facts.ssh_keys if k.type in ("ed25519", "ed25519-sk")})
    if ed25519 and facts.os_version.startswith("22.04"):
        # Field reports (issue 8): logins with ed25519 keys broke on 22.04 fips-updates.
        # Canonical documents no such refusal, so this is a warning, not a refusal.
        found.append(
            Finding(
                "warning",
                "ssh-ed25519",
                (
                    f"users with ed25519 keys ({', '.join(ed25519)}): logins with such keys "
                    "have been "
                    "reported broken on Ubuntu 22.04 with fips-updates. Add an ECDSA or RSA >= "
                    "2048-bit "
                    "key to their ~/.ssh/authorized_keys before the reboot, and keep the "
                    "serial console "
                    "at hand"
                ),
            )
        )
    if facts.secure_boot == "enabled":
        found.append(
            Finding(
                "warning",
                "secure-boot",
                (
                    "UEFI Secure Boot is on (Trusted Launch). Canonical notes that Secure Boot "
                    "revokes "
                    "boot artefacts while FIPS freezes them, and that this left Ubuntu 20.04 "
                    "unbootable "
                    "and will eventually affect 22.04 (ubuntu-pro-client #3420). Take a "
                    "snapshot first; "
                    "consider turning Secure Boot off"
                ),
            )
        )
    if facts.pro_attached is False:
        if "pro_token" in secrets:
            found.append(
                Finding(
                    "warning",
                    "pro-attach",
                    (
                        "the machine is not attached to Ubuntu Pro; it will be attached with the "
                        "pro_token secret you provided"
                    ),
                )
            )
        else:
            found.append(
                Finding(
                    "refusal",
                    "pro-attach",
                    (
                        "the machine is not attached to Ubuntu Pro and no pro_token secret was "
                        "given. "
                        "Provide one: set FIPSWIZARD_PRO_TOKEN (the recipe's [secrets] "
                        'pro_token = "env:FIPSWIZARD_PRO_TOKEN" by default), or use an Ubuntu '
                        "Pro image"
                    ),
                )
            )
    elif facts.pro_attached is None:
        found.append(
            Finding(
                "warning",
                "pro-status",
                ("could not read `pro status` (is ubuntu-pro-client installed?)"),
            )
        )
    elif facts.pro_fips_entitled not in (None, "yes"):
        found.append(
            Finding(
                "refusal",
                "pro-entitlement",
                (
                    f"the Ubuntu Pro subscription is not entitled to fips-updates (entitled="
                    f"{facts.pro_fips_entitled}). Use a subscription that includes FIPS"
                ),
            )
        )
    return found


def _agent(
    facts: GuestFacts, min_agent: str, workaround: bool, turns_on: bool = False
) -> list[Finding]:
    """`turns_on`: the recipe's agent step will switch auto-update on, so it is no refusal."""
    found: list[Finding] = []
    goal = facts.agent_goal_state
    if goal is None:
        found.append(
            Finding(
                "warning",
                "agent-version",
                (
                    "could not read the goal-state agent version (`waagent --version`); "
                    "Azure's FIPS "
                    f"140-3 extension support needs {min_agent} or later"
                ),
            )
        )
    elif older(goal, min_agent):
        if facts.autoupdate_on or turns_on:
            how = (
                "auto-update is on"
                if facts.autoupdate_on
                else ("auto-update is off, and the agent step turns it on and restarts the agent")
            )
            if facts.os_id == "flatcar" and not facts.autoupdate_on:
                how += (
                    " (Flatcar: /etc/waagent.conf, a link into read-only /usr, is replaced by "
                    "a file copy; rollback restores the link. Unconfirmed whether the agent "
                    "updates itself inside the oem-azure sysext: if not, the goal-state step "
                    "stops and you can roll back or choose flatcar_extensions = "
                    '"accept-unsupported")'
                )
            found.append(
                Finding(
                    "warning",
                    "agent-version",
                    (
                        f"the goal-state agent is {goal}, older than {min_agent}; {how}, so it "
                        "updates "
                        "itself, and the agent steps wait for it"
                    ),
                )
            )
        else:
            found.append(
                Finding(
                    "refusal",
                    "agent-version",
                    (
                        f"the goal-state agent is {goal}, older than {min_agent}, and "
                        "auto-update is off "
                        "in /etc/waagent.conf, so it stays there: extensions with protected "
                        "settings "
                        "will fail once the guest is in FIPS mode. "
                        + (
                            "Flatcar ships the agent this way by design and Microsoft does not "
                            "list "
                            "Flatcar as supported."
                            if facts.os_id == "flatcar"
                            else "Set AutoUpdate.Enabled=y (and "
                            "AutoUpdate.UpdateToLatestVersion=y), restart "
                            "the agent, then re-run"
                        )
                    ),
                )
            )
    if facts.rhel_family and facts.agent_daemon == "2.7.0.6":
        found.append(
            Finding(
                "warning",
                "agent-2.7.0.6",
                (
                    "the agent daemon is WALinuxAgent 2.7.0.6 (RHEL 9.5/9.6 images), which "
                    "loops and "
                    "never reports Ready after the FIPS reboot. "
                    + (
                        "The workaround step will comment out self._initialize_telemetry() in its "
                        "daemon/main.py; Microsoft calls this workaround test-only"
                        if workaround
                        else "This recipe has no workaround step: update the WALinuxAgent "
                        "package first"
                    )
                ),
            )
        )
    return found
