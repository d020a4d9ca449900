"""Diagnosis of agent-log / extension-status text into a cause and the smallest fix."""

from __future__ import annotations

import pytest

from fipswizard.guest.diagnose import COSTS, diagnose

PFX = (
    "2025-11-05T10:00:01.123Z ERROR ExtHandler ExtHandler Error converting PFX to PEM "
    "[ ... error:0308010C:digital envelope routines::unsupported:crypto/evp/evp_fetch.c:"
    "373:Global default library context, Algorithm (DES-EDE3-CBC : 0), Properties ()]"
)
CANNOT = "[ProtocolError] Cannot convert PFX to PEM in FIPS mode"
KDF = "pkcs12: unsupported: Algorithm (PKCS12KDF : 0), Properties ()"
P7M = (
    "2025-11-05T10:00:00Z INFO Daemon Daemon Azure Linux Agent Version: 2.7.0.6\n"
    "2025-11-05T10:00:05Z WARNING Daemon Daemon Failed to decrypt "
    "/var/lib/waagent/Certificates.p7m"
)
CYPHERS = "ERROR Cannot download certificates using any of the supported cyphers"


def test_unrelated_text_has_no_diagnosis() -> None:
    assert diagnose("INFO ExtHandler all good\nProvisioning succeeded") is None
    assert diagnose("") is None


@pytest.mark.parametrize("text", [PFX, CANNOT, KDF, CYPHERS])
def test_flag_off_means_not_opted_in(text: str) -> None:
    found = diagnose(text, flag_on=False, agent_version="2.14.0.1")
    assert found is not None
    assert (found.cause, found.fix) == ("vm-not-opted-in", "set-flag")
    assert "enableFips1403Encryption" in found.explanation
    assert "check it first" not in found.explanation
    assert found.cost == COSTS["set-flag"]
    assert found.evidence and found.evidence in text


def test_unknown_flag_says_to_check_it() -> None:
    found = diagnose(PFX, flag_on=None, agent_version="2.15.0.1")
    assert found is not None and found.cause == "vm-not-opted-in"
    assert "check it first" in found.explanation


@pytest.mark.parametrize("text", [PFX, CANNOT, CYPHERS])
def test_flag_on_means_old_certificate_package(text: str) -> None:
    found = diagnose(text, flag_on=True, agent_version="2.15.0.1")
    assert found is not None
    assert (found.cause, found.fix) == ("old-certificate-package", "reallocate")
    assert "deallocate + start" in found.explanation and "Key Vault" in found.explanation
    assert "downtime" in found.cost


def test_old_goal_state_agent_wins_over_the_flag() -> None:
    found = diagnose(PFX, flag_on=True, agent_version="2.9.1.1")
    assert found is not None
    assert (found.cause, found.fix) == ("agent-too-old", "update-agent")
    assert "2.9.1.1" in found.explanation and "2.14.0.1" in found.explanation


def test_versions_are_read_from_the_text() -> None:
    text = "WALinuxAgent-2.9.1.1 running on redhat 9.2\nGoal state agent: 2.9.1.1\n" + PFX
    found = diagnose(text, flag_on=True)
    assert found is not None and found.cause == "agent-too-old"


def test_p7m_with_daemon_2706_is_the_loop() -> None:
    found = diagnose(P7M, flag_on=True, agent_version="2.15.0.1")
    assert found is not None
    assert (found.cause, found.fix) == ("agent-loop-2.7.0.6", "workaround")
    assert "_initialize_telemetry" in found.explanation and "test-only" in found.cost
    explicit = diagnose(
        "Failed to decrypt /var/lib/waagent/Certificates.p7m", daemon_version="2.7.0.6"
    )
    assert explicit is not None and explicit.cause == "agent-loop-2.7.0.6"


def test_p7m_with_a_new_agent_follows_the_flag() -> None:
    text = "Failed to decrypt /var/lib/waagent/Certificates.p7m"
    found = diagnose(text, flag_on=False, agent_version="2.14.0.1", daemon_version="2.14.0.1")
    assert found is not None and found.cause == "vm-not-opted-in"
    old = diagnose(text, agent_version="2.2.53")
    assert old is not None and old.cause == "agent-too-old"


def test_to_dict() -> None:
    found = diagnose(CANNOT, flag_on=False)
    assert found is not None
    assert found.to_dict()["fix"] == "set-flag" and set(found.to_dict()) == {
        "cause",
        "explanation",
        "fix",
        "cost",
        "evidence",
    }
