"""Preflight findings: lock-out risks, boot risks, Pro attachment, agent version."""

from __future__ import annotations

from dataclasses import replace

from fipswizard.engine.steps import Risk
from fipswizard.guest.detect import GuestFacts, SshKey
from fipswizard.guest.preflight import Finding, preflight
from fipswizard.guest.recipes import GuestRecipe, GuestStepSpec

OK_AGENT = {"agent_daemon": "2.15.0.1", "agent_goal_state": "2.15.0.1"}
RHEL = GuestFacts(os_id="rhel", os_version="9.4", os_like="fedora", **OK_AGENT)
UBUNTU = GuestFacts(
    os_id="ubuntu",
    os_version="22.04",
    pro_attached=True,
    pro_fips_entitled="yes",
    pro_fips_updates="disabled",
    **OK_AGENT,
)
FLATCAR = GuestFacts(
    os_id="flatcar",
    os_version="4230.2.0",
    agent_daemon="2.12.0.4",
    agent_goal_state="2.12.0.4",
    autoupdate_enabled="n",
    sshd_ciphers=("aes256-gcm@openssh.com",),
)


def codes(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.level, f.code) for f in found]


def recipe_with(*step_ids: str) -> GuestRecipe:
    steps = tuple(
        GuestStepSpec(i, i, Risk.REVERSIBLE, "rhel9", check="x", apply="x") for i in step_ids
    )
    return GuestRecipe("rhel9", "RHEL 9", "/x/rhel9.toml", steps=steps)


def test_clean_guests_have_no_findings() -> None:
    assert preflight(RHEL, None) == []
    assert preflight(UBUNTU, None) == []


def test_ed25519_only_user_is_refused_on_rhel() -> None:
    facts = replace(
        RHEL, ssh_keys=(SshKey("azureuser", "ed25519", 256), SshKey("root", "rsa", 4096))
    )
    found = preflight(facts, None)
    assert codes(found) == [("refusal", "ssh-keys")]
    text = found[0].message
    assert "azureuser: ed25519" in text and "root" not in text.split("(")[1]
    assert "ECDSA or RSA >= 2048" in text


def test_unusable_keys_beside_a_usable_one_only_warn() -> None:
    facts = replace(
        RHEL,
        ssh_keys=(
            SshKey("azureuser", "ed25519", 256),
            SshKey("azureuser", "rsa", 1024),
            SshKey("azureuser", "ecdsa", 256),
        ),
    )
    found = preflight(facts, None)
    assert codes(found) == [("warning", "ssh-keys")]
    assert "ed25519 256" in found[0].message and "rsa 1024" in found[0].message


def test_dsa_and_short_rsa_are_refused_and_unsized_rsa_warns() -> None:
    facts = replace(
        RHEL,
        ssh_keys=(SshKey("a", "dsa", 1024), SshKey("b", "rsa", 1024), SshKey("c", "rsa", None)),
    )
    found = preflight(facts, None)
    assert ("refusal", "ssh-keys") in codes(found) and ("warning", "ssh-keys") in codes(found)
    assert "a: dsa 1024" in found[0].message and "b: rsa 1024" in found[0].message


def test_ed25519_on_ubuntu_2204_warns_and_never_refuses() -> None:
    facts = replace(UBUNTU, ssh_keys=(SshKey("azureuser", "ed25519", 256),))
    found = preflight(facts, None)
    assert codes(found) == [("warning", "ssh-ed25519")]
    assert "azureuser" in found[0].message and "22.04" in found[0].message
    assert preflight(replace(facts, os_version="24.04"), None) == []  # no field report there
    rsa = replace(UBUNTU, ssh_keys=(SshKey("azureuser", "rsa", 3072),))
    assert preflight(rsa, None) == []


def test_security_keys_are_refused_on_rhel() -> None:
    # The FIPS policy's PubkeyAcceptedAlgorithms has no sk-* type.
    facts = replace(
        RHEL, ssh_keys=(SshKey("azureuser", "ecdsa-sk", 256), SshKey("ops", "ed25519-sk", 256))
    )
    found = preflight(facts, None)
    assert codes(found) == [("refusal", "ssh-keys")]
    assert "azureuser: ecdsa-sk" in found[0].message and "ops: ed25519-sk" in found[0].message
    assert "security-key" in found[0].message


def test_rsa_2048_is_the_floor_on_rhel() -> None:
    assert preflight(replace(RHEL, ssh_keys=(SshKey("a", "rsa", 2048),)), None) == []
    found = preflight(replace(RHEL, ssh_keys=(SshKey("a", "rsa", 2047),)), None)
    assert codes(found) == [("refusal", "ssh-keys")]


def test_chacha20_is_noise_on_stock_rhel_but_not_when_set_by_hand() -> None:
    ciphers = ("chacha20-poly1305@openssh.com", "aes128-ctr")
    stock = replace(RHEL, sshd_ciphers=ciphers, sshd_ciphers_explicit=False)
    assert preflight(stock, None) == []  # the FIPS policy's back-end drops chacha20
    rhel = preflight(replace(stock, sshd_ciphers_explicit=True), None)
    assert codes(rhel) == [("warning", "sshd-ciphers")]
    assert "crypto policy" in rhel[0].message and "sshd_config.d/40-fips.conf" in rhel[0].message
    flatcar = preflight(replace(FLATCAR, sshd_ciphers=ciphers, autoupdate_enabled="y"), None)
    assert ("warning", "sshd-ciphers") in codes(flatcar)
    assert "crypto policy" not in flatcar[0].message
    assert preflight(replace(UBUNTU, sshd_ciphers=ciphers), None) == []


def test_flatcar_with_unknown_ciphers_warns_about_the_default_list() -> None:
    found = preflight(replace(FLATCAR, sshd_ciphers=None, agent_goal_state="2.15.0.1"), None)
    assert codes(found) == [("warning", "sshd-ciphers")]
    assert "default" in found[0].message


def test_luks_argon2_is_refused() -> None:
    found = preflight(replace(UBUNTU, luks_pbkdf=("argon2id", "pbkdf2")), None)
    assert codes(found) == [("refusal", "luks-argon2")]
    assert "luksConvertKey --pbkdf pbkdf2" in found[0].message
    assert preflight(replace(UBUNTU, luks_pbkdf=("pbkdf2",)), None) == []


def test_ubuntu_secure_boot_warns_citing_3420() -> None:
    found = preflight(replace(UBUNTU, secure_boot="enabled"), None)
    assert codes(found) == [("warning", "secure-boot")]
    assert "#3420" in found[0].message and "Trusted Launch" in found[0].message
    assert preflight(replace(RHEL, secure_boot="enabled"), None) == []


def test_pro_attachment_and_entitlement() -> None:
    unattached = replace(UBUNTU, pro_attached=False, pro_fips_entitled=None)
    assert codes(preflight(unattached, None)) == [("refusal", "pro-attach")]
    assert codes(preflight(unattached, None, secrets={"pro_token"})) == [("warning", "pro-attach")]
    not_entitled = replace(UBUNTU, pro_fips_entitled="no")
    found = preflight(not_entitled, None)
    assert codes(found) == [("refusal", "pro-entitlement")] and "entitled=no" in found[0].message
    assert codes(preflight(replace(UBUNTU, pro_attached=None), None)) == [("warning", "pro-status")]


def test_old_agent_warns_with_auto_update_and_refuses_without() -> None:
    old = replace(RHEL, agent_goal_state="2.9.1.1")
    found = preflight(old, None)
    assert codes(found) == [("warning", "agent-version")] and "2.9.1.1" in found[0].message
    off = preflight(replace(old, autoupdate_latest="n"), None)
    assert codes(off) == [("refusal", "agent-version")]
    assert "AutoUpdate.Enabled=y" in off[0].message
    flatcar = preflight(FLATCAR, None)  # no recipe to turn auto-update on
    assert codes(flatcar) == [("refusal", "agent-version")]
    assert "2.12.0.4" in flatcar[0].message
    unknown = preflight(replace(RHEL, agent_goal_state=None), None)
    assert codes(unknown) == [("warning", "agent-version")]


def test_rhel_daemon_2706_warns_about_the_test_only_workaround() -> None:
    facts = replace(RHEL, os_version="9.5", agent_daemon="2.7.0.6")
    found = preflight(facts, recipe_with("fips-mode", "agent-workaround"))
    assert codes(found) == [("warning", "agent-2.7.0.6")]
    assert "test-only" in found[0].message and "workaround step will" in found[0].message
    plain = preflight(facts, recipe_with("fips-mode"))
    assert "no workaround step" in plain[0].message
    assert preflight(replace(UBUNTU, agent_daemon="2.7.0.6"), None) == []


def test_old_agent_with_autoupdate_off_is_a_warning_when_the_recipe_fixes_it() -> None:
    from fipswizard.guest.detect import GuestFacts
    from fipswizard.guest.preflight import preflight
    from fipswizard.guest.recipes import load_guest_recipe

    facts = GuestFacts(
        os_id="rhel",
        os_version="9.4",
        agent_daemon="2.9.1.1",
        agent_goal_state="2.9.1.1",
        autoupdate_enabled="n",
    )
    findings = {f.code: f for f in preflight(facts, load_guest_recipe("rhel9"))}
    assert findings["agent-version"].level == "warning"
    assert "turns it on" in findings["agent-version"].message
    flatcar = GuestFacts(
        os_id="flatcar", os_version="4230.2.0", agent_goal_state="2.12.0.4", autoupdate_enabled="n"
    )
    findings = {f.code: f for f in preflight(flatcar, load_guest_recipe("flatcar"))}
    assert findings["agent-version"].level == "warning"  # stock Flatcar is no longer refused
    assert "read-only /usr" in findings["agent-version"].message
    assert "Unconfirmed" in findings["agent-version"].message


def test_flatcar_accept_unsupported_is_reported_as_such() -> None:
    from fipswizard.guest.recipes import load_guest_recipe

    found = preflight(
        FLATCAR, load_guest_recipe("flatcar"), flatcar_extensions="accept-unsupported"
    )
    assert codes(found) == [("warning", "extensions-unsupported")]
    assert "without Azure's extension support" in found[0].message


def test_quoted_and_unknown_auto_update_values_read_like_the_agent() -> None:
    assert not replace(RHEL, autoupdate_enabled="n").autoupdate_on
    assert replace(RHEL, autoupdate_enabled="no").autoupdate_on  # not y/n: the default
    assert not replace(RHEL, autoupdate_enabled="y", autoupdate_latest="N").autoupdate_on
    assert not replace(RHEL, autoupdate_enabled="n", autoupdate_latest=None).autoupdate_on
