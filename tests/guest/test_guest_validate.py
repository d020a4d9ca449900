"""The guest validation script runs for real in a bubblewrap fake root."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.context import Context
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.steps import Outcome, Risk
from fipswizard.errors import StepError
from fipswizard.guest.runners import BwrapRunner, bwrap_problem
from fipswizard.guest.validate import GuestValidateStep

pytestmark = [
    pytest.mark.bwrap,
    pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem())),
]

OPENSSL = """#!/bin/bash
# stand-in OpenSSL 3; /etc/fw-openssl: plain (no FIPS provider), fips (MD5 refused),
# symcrypt (FIPS provider active yet MD5 allowed, like Azure Linux 3)
mode=$(cat /etc/fw-openssl)
case "$1" in
  md5) [ "$mode" = fips ] && { echo 'unsupported:inner_evp_generic_fetch' >&2; exit 1; }
       echo 'MD5(stdin)= 401b30e3b8b5d629635a5c613cdb7919'; exit 0 ;;
  list) echo 'Providers:'; echo '  default'; echo '    status: active'
        [ "$mode" != plain ] && { echo '  fips'; echo '    name: OpenSSL FIPS Provider'
                                echo '    status: active'; }
        exit 0 ;;
esac
exit 2
"""


def make_root(tmp_path: Path, os_id: str, openssl_mode: str) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(f'ID="{os_id}"\nVERSION_ID="9.5"\n')
    (root / "etc/fw-openssl").write_text(openssl_mode)
    tool = root / "opt/fw-standins/openssl"
    tool.parent.mkdir(parents=True)
    tool.write_text(OPENSSL)
    tool.chmod(0o755)
    return root


@pytest.mark.parametrize(
    ("os_id", "fips", "mode", "done", "fragment"),
    [
        ("rhel", "1", "fips", True, "openssl_md5=refused, fips_provider=active"),
        ("rhel", "0", "fips", False, "fips_enabled=0"),
        ("ubuntu", "1", "plain", False, "openssl_md5=allowed"),
        ("azurelinux", "1", "symcrypt", True, "openssl_md5=allowed, fips_provider=active"),
        ("rhel", "1", "symcrypt", False, "openssl_md5=allowed"),
    ],
)
async def test_validation_script(
    tmp_path: Path, os_id: str, fips: str, mode: str, done: bool, fragment: str
) -> None:
    runner = BwrapRunner(make_root(tmp_path, os_id, mode), fips_enabled=fips)
    ctx = Context(prompter=HeadlessPrompter(False), runner=runner)
    step = GuestValidateStep("t", "validate", Risk.READ_ONLY, {})
    outcome = await step.check(ctx)
    assert outcome.done is done and fragment in outcome.detail
    if not done:
        with pytest.raises(StepError, match="not in FIPS mode"):
            await step.apply(ctx, Outcome(False, outcome.detail))
