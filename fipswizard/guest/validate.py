"""Guest validation after the recipe: the kernel and OpenSSL really run in FIPS mode.

Read-only. `fips_enabled` must be 1 and OpenSSL's FIPS provider active; MD5 must be refused,
except on Azure Linux, whose SymCrypt provider still allows older algorithms by design.
"""

from __future__ import annotations

from fipswizard.context import Context
from fipswizard.engine.steps import Action, Outcome, ScriptAction, Step
from fipswizard.errors import StepError
from fipswizard.guest.protocol import marker, parse_facts

VALIDATE_SCRIPT = (
    marker("engine/validate/check")
    + r"""
# Read-only: is the guest really in FIPS mode? One fact per line; exit 0 yes, 10 no.
export LC_ALL=C PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"
fe=$(cat /proc/sys/crypto/fips_enabled 2>/dev/null || echo 0)
echo "fips_enabled=$fe"
os=$(sed -n 's/^ID=//p' /etc/os-release 2>/dev/null | tr -d '"')
md5=n/a; prov=n/a
if command -v openssl >/dev/null 2>&1; then
  if echo x | openssl md5 >/dev/null 2>&1; then md5=allowed; else md5=refused; fi
  if openssl list -providers 2>/dev/null | tr 'A-Z' 'a-z' \
      | awk '/fips/{f=1} f && /status: *active/{a=1} END{exit !a}'; then
    prov=active
  else
    prov=inactive
  fi
fi
echo "openssl_md5=$md5"
echo "fips_provider=$prov"
case "$os" in azurelinux|mariner) md5=refused ;; esac  # SymCrypt allows MD5 by design
[ "$fe" = 1 ] && [ "$md5" != allowed ] && [ "$prov" != inactive ] && exit 0
exit 10
"""
)


class GuestValidateStep(Step):
    """Read-only: after the reboot, the guest must be in FIPS mode for real."""

    kind = "guest-validate"

    def actions(self) -> list[Action]:
        return [ScriptAction(VALIDATE_SCRIPT, "check", note="read-only (Run Command)")]

    def read_script(self) -> str:
        return VALIDATE_SCRIPT

    async def check(self, ctx: Context) -> Outcome:
        # Read-only, so the runner may send it again after a 5xx or a dropped connection; an
        # earlier Run Command of this VM may have read it ahead (after the reboot).
        result = await ctx.run_read(VALIDATE_SCRIPT)
        facts = parse_facts(result.stdout)
        detail = ", ".join(
            f"{k}={facts.get(k, '?')}" for k in ("fips_enabled", "openssl_md5", "fips_provider")
        )
        if result.rc not in (0, 10):
            raise StepError(
                f"guest validation script failed (exit {result.rc}): {result.stderr[-300:]}"
            )
        return Outcome(result.rc == 0, detail, facts)

    async def apply(self, ctx: Context, before: Outcome) -> None:
        raise StepError(
            f"the guest is not in FIPS mode after the recipe ran: {before.detail}",
            "fips_enabled must be 1 (was the VM rebooted?), OpenSSL's FIPS provider active and "
            "MD5 refused; run `fipswizard check --local` on the VM for the details",
        )
