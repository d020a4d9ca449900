"""Claim levels from the dated CMVP catalog, recomputed against the evidence date."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from datetime import date
from pathlib import Path

import pytest

from fipswizard.errors import BadInput
from fipswizard.evidence.catalog import assess as claim_of
from fipswizard.evidence.catalog import load_catalog, parse_catalog
from fipswizard.guest.detect import PROBE_SCRIPT, parse_probe

CAT = load_catalog()
DAY = date(2026, 11, 30)
U22 = "Ubuntu 22.04 OpenSSL Cryptographic Module"
RH = "Red Hat Enterprise Linux 9 - OpenSSL FIPS Provider"


def level(kind: str, os_key: str, name: str, version: str, today: date = DAY) -> str:
    return claim_of(CAT, kind, os_key, name, version, today, fips_on=True).level


def test_every_row_names_its_source_and_review_date() -> None:
    assert CAT.snapshot and CAT.rows
    for row in CAT.rows:
        assert row.source.startswith("https://csrc.nist.gov/"), row
        assert row.last_reviewed, row


def test_interim_certificate_shows_days_to_sunset() -> None:
    c = claim_of(CAT, "openssl", "ubuntu 22.04", U22, "3.0.5-0ubuntu0.1+Fips2.1", DAY, fips_on=True)
    assert c.level == "validated-interim"
    assert c.days_to_sunset == (date(2029, 9, 10) - DAY).days
    assert "interim" in c.wording and "#4794" in c.wording


def test_full_validation_update_stream_in_process_and_none() -> None:
    assert level("openssl", "ubuntu 24.04", "Ubuntu 24.04 OpenSSL Cryptographic Module",
                 "3.0.13-0ubuntu3+Fips1") == "validated"  # fmt: skip
    assert level("kernel", "ubuntu 22.04", "", "5.15.0-1077-azure-fips") == "update-stream"
    assert level("openssl", "rhel 9.4", RH, "3.0.7-cda111b5812c30d4") == "update-stream"
    assert level("openssl", "rhel 9.6", RH, "3.2.2-622cc79c634cbbef") == "in-process"
    assert level("openssl", "flatcar 4230.2.0", "OpenSSL FIPS Provider", "3.5.7") == "none"
    # EL kernels report the arch in uname -r; the certificate's version does not carry it
    assert level("kernel", "almalinux 9.2", "", "5.14.0-284.11.1.el9_2.tuxcare.6.x86_64") == (
        "validated-interim"
    )
    assert level("kernel", "almalinux 9.2", "", "5.14.0-284.1101.el9_2.tuxcare.7.x86_64") == (
        "update-stream"
    )


def test_status_is_recomputed_against_the_evidence_date() -> None:
    # RHEL 9.0's provider: interim, 2-year sunset 2026-07-30
    assert level("openssl", "rhel 9.0", RH.replace(" -", ""), "3.0.1-3f45e68ee408cd9c",
                 date(2026, 7, 1)) == "validated-interim"  # fmt: skip
    assert level("openssl", "rhel 9.0", RH.replace(" -", ""), "3.0.1-3f45e68ee408cd9c") == (
        "historical"
    )
    # FIPS 140-2 ends 2026-09-21: upstream 3.0.9 was validated before it, historical after
    assert level("openssl", "flatcar 1", "OpenSSL FIPS Provider", "3.0.9", date(2026, 9, 1)) == (
        "validated"
    )
    assert level("openssl", "flatcar 1", "OpenSSL FIPS Provider", "3.0.9") == "historical"


def test_fips_mode_off_is_never_a_claim() -> None:
    c = claim_of(
        CAT, "openssl", "ubuntu 22.04", U22, "3.0.5-0ubuntu0.1+Fips2.1", DAY, fips_on=False
    )
    assert c.level == "none" and "validated" not in c.wording.lower()


def test_sunset_within_90_days_warns() -> None:
    c = claim_of(CAT, "openssl", "ubuntu 22.04", U22, "3.0.5-0ubuntu0.1+Fips2.1",
                 date(2029, 7, 1), fips_on=True)  # fmt: skip
    assert c.warnings and "71 days" in c.warnings[0]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[row]]\nkind = "disk"\n', "kind is 'disk', allowed: openssl, kernel"),
        ('[[row]]\nkind = "kernel"\nstatus = "gone"\n', "status is 'gone'"),
        ('[[row]]\nkind = "kernel"\nstatus = "active"\nos = "("\n', "os is not a regex"),
        ("[[row]\n", "cmvp.toml"),
    ],
)
def test_bad_catalog_is_a_clear_error(text: str, says: str) -> None:
    with pytest.raises(BadInput, match=None) as err:
        parse_catalog(text)
    assert says in str(err.value) and "cmvp.toml" in str(err.value)


def test_probe_reads_the_fips_provider_from_openssl_list_providers(tmp_path: Path) -> None:
    """The real probe text run by bash with a stand-in `openssl` printing OpenSSL 3's
    `list -providers` layout (RHEL 9 transcript)."""
    fake = tmp_path / "openssl"
    fake.write_text(
        "#!/bin/sh\ncat <<'EOF'\nProviders:\n  default\n    name: OpenSSL Default Provider\n"
        "    version: 3.0.7\n    status: active\n  fips\n"
        f"    name: {RH}\n    version: 3.0.7-395c1a240fbfffd8\n    status: active\nEOF\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    bash = shutil.which("bash")
    assert bash
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    # only the provider part: the rest of the probe reads the host and may be slow here
    part = PROBE_SCRIPT[PROBE_SCRIPT.index("# Evidence:") : PROBE_SCRIPT.index("exit 0")]
    head = 'has() { command -v "$1" >/dev/null 2>&1; }\nkv() { printf \'%s=%s\\n\' "$1" "$2"; }\n'
    out = subprocess.run(
        [bash, "-c", "echo probe=1\n" + head + part], env=env, capture_output=True, text=True,
        cwd=os.getcwd(), timeout=30,
    )  # fmt: skip
    facts = parse_probe(out.stdout)
    assert facts.md5 == "allowed"  # the stand-in openssl exits 0 for `openssl md5`
    assert facts.openssl_fips_name == RH
    assert facts.openssl_fips_version == "3.0.7-395c1a240fbfffd8"
