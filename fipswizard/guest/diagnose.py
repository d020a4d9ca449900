"""Diagnosis: why the agent or an extension fails on a FIPS guest, and the smallest fix.

Input is text from /var/log/waagent.log or an extension's status message. The symptoms and
causes come from WALinuxAgent #3489, #2600, PR #3324 / #3559 and the Microsoft how-to
(reference azure-platform.md 9.1-9.3, 10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fipswizard.versions import MIN_AGENT, older

LOOP_DAEMON = "2.7.0.6"

_SYMPTOMS = (
    re.compile(r"Error converting PFX to PEM", re.I),
    re.compile(r"Cannot convert PFX to PEM", re.I),
    re.compile(
        r"unsupported[^\n]*(DES-EDE3-CBC|PKCS12KDF)|(DES-EDE3-CBC|PKCS12KDF)[^\n]*unsupported", re.I
    ),
    re.compile(r"Failed to decrypt \S*Certificates\.p7m", re.I),
    re.compile(r"Cannot download certificates using any of the supported cyphers", re.I),
)
_P7M = _SYMPTOMS[3]
_DAEMON = (
    re.compile(r"WALinuxAgent-(\d+(?:\.\d+)+) running on"),
    re.compile(r"Daemon[^\n]*Azure Linux Agent Version:?\s*(\d+(?:\.\d+)+)"),
)
_GOAL = (
    re.compile(r"Goal state agent:\s*(\d+(?:\.\d+)+)", re.I),
    re.compile(r"Goal State Agent version\s*(\d+(?:\.\d+)+)", re.I),
)

COSTS = {
    "reallocate": "deallocate + start: about 2-5 minutes of downtime; a dynamic public IP may "
    "change and the temporary disk is wiped",
    "keyvault": "no downtime, but needs a certificate in Key Vault added to osProfile.secrets, "
    "one VM update",
    "set-flag": "one VM model update, no downtime by itself; the VM then needs a new "
    "certificate package: deallocate + start, or a Key Vault certificate",
    "update-agent": "no downtime: turn on AutoUpdate in /etc/waagent.conf and restart the agent; "
    "it fetches a newer goal-state agent from Azure",
    "workaround": "an agent restart, no reboot; Microsoft calls this workaround test-only",
}


@dataclass(frozen=True)
class Diagnosis:
    cause: str  # vm-not-opted-in | old-certificate-package | agent-too-old | agent-loop-2.7.0.6
    explanation: str
    fix: str  # reallocate | keyvault | set-flag | update-agent | workaround
    cost: str
    evidence: str = ""  # the line that matched

    def to_dict(self) -> dict[str, str]:
        return {
            "cause": self.cause,
            "explanation": self.explanation,
            "fix": self.fix,
            "cost": self.cost,
            "evidence": self.evidence,
        }


def diagnose(
    text: str,
    *,
    flag_on: bool | None = None,
    agent_version: str | None = None,
    daemon_version: str | None = None,
) -> Diagnosis | None:
    """Classify agent-log or extension-status text; None when no known symptom is in it.

    `agent_version` is the goal-state agent, `daemon_version` the installed package; both are
    also read from the text when it carries `waagent --version` or agent start-up lines.
    """
    evidence = _evidence(text)
    if evidence is None:
        return None
    goal = agent_version or _find(_GOAL, text)
    daemon = daemon_version or _find(_DAEMON, text)
    if _P7M.search(text) and LOOP_DAEMON in (daemon, goal):
        return _make(
            "agent-loop-2.7.0.6",
            "workaround",
            evidence,
            (
                "the WALinuxAgent 2.7.0.6 daemon (RHEL 9.5/9.6 images) cannot decrypt the "
                "certificate package in FIPS mode and retries forever, so the agent never reports "
                "Ready. Fix: stop the agent, comment out self._initialize_telemetry() in "
                "azurelinuxagent/daemon/main.py, start it: the rhel9 recipe's workaround step"
            ),
        )
    if goal and older(goal, MIN_AGENT):
        return _make(
            "agent-too-old",
            "update-agent",
            evidence,
            (
                f"the goal-state agent {goal} predates {MIN_AGENT}, the first to request FIPS "
                "140-3 compatible certificates, AES instead of DES-EDE3-CBC. Turn on auto-update "
                f"so the agent reaches {MIN_AGENT} or later"
            ),
        )
    if flag_on:
        return _make(
            "old-certificate-package",
            "reallocate",
            evidence,
            (
                "the VM is opted in (enableFips1403Encryption is true) but still holds the "
                "certificate package made before the opt-in, encrypted with DES-EDE3-CBC, which "
                "FIPS OpenSSL rejects. A new package comes with deallocate + start, or without "
                "downtime by adding a Key Vault certificate to osProfile.secrets; that costs "
                f"{COSTS['keyvault']}"
            ),
        )
    unknown = "" if flag_on is False else ". The flag's state was not read: check it first"
    return _make(
        "vm-not-opted-in",
        "set-flag",
        evidence,
        (
            "the VM is not opted in to FIPS 140-3 encryption for extensions, so Azure still sends "
            "a certificate package encrypted with DES-EDE3-CBC / PKCS12KDF, which FIPS OpenSSL "
            "rejects. Set properties.additionalCapabilities.enableFips1403Encryption = true"
            + unknown
        ),
    )


def _make(cause: str, fix: str, evidence: str, explanation: str) -> Diagnosis:
    return Diagnosis(cause, explanation, fix, COSTS[fix], evidence)


def _evidence(text: str) -> str | None:
    for pattern in _SYMPTOMS:
        match = pattern.search(text)
        if match:
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            return text[start : end if end >= 0 else len(text)].strip()[:300]
    return None


def _find(patterns: tuple[re.Pattern[str], ...], text: str) -> str | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None
