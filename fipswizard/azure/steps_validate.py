"""Validation through extensions with protected settings, and the fixes it can lead to."""

from __future__ import annotations

import datetime as dt
import secrets as pyrandom
import string
from typing import Any

from fipswizard.azure.arm_step import ArmStep
from fipswizard.azure.steps_vm import wait_for_agent
from fipswizard.context import Context
from fipswizard.errors import StepError
from fipswizard.secrets import MASK, Secret
from fipswizard.steps import Action, HttpAction, Outcome

TAG = {"fipswizard": "validation"}
EXT_API = "extensions"


class FixNeeded(StepError):
    """Validation failed with a signature that a platform fix can cure."""

    def __init__(self, message: str, advice: str, cause: str, fix: str) -> None:
        super().__init__(message, advice)
        self.cause, self.fix = cause, fix


class ExtensionValidation(ArmStep):
    """PUT an extension with protected settings; success proves the certificate package works."""

    name = ""
    publisher = ""
    type_ = ""
    version = ""

    def ext_path(self) -> str:
        return f"{self.vm_path}/extensions/{self.name}"

    def ext_body(
        self, protected: dict[str, Any], tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "location": self.params.get("location") or "<location from GET>",
            "properties": {
                "publisher": self.publisher,
                "type": self.type_,
                "typeHandlerVersion": self.version,
                "autoUpgradeMinorVersion": True,
                "settings": {},
                "protectedSettings": protected,
            },
        }
        if tags:
            body["tags"] = tags
        return body

    async def check(self, ctx: Context) -> Outcome:
        from fipswizard.azure.arm import NotFound

        return self.judge(await self._read(ctx, NotFound))

    async def _read(self, ctx: Context, missing: type[Exception]) -> dict[str, Any] | None:
        try:
            return (await ctx.need_arm().get(self.ext_path(), self.params["api"])).body or {}
        except missing:
            return None

    async def verify(self, ctx: Context) -> Outcome:
        # The PUT's operation ends with a GET of the extension: judge that, not a new GET.
        final = self.__dict__.pop("_final", None)
        return self.judge(final) if final is not None else await self.check(ctx)

    def judge(self, body: dict[str, Any] | None) -> Outcome:
        if body is None:
            return Outcome(False, f"{self.name} has not validated this VM yet")
        state = (body.get("properties") or {}).get("provisioningState")
        ok = (
            state == "Succeeded" and (body.get("tags") or {}).get("fipswizard") == TAG["fipswizard"]
        )
        return Outcome(ok, f"{self.name} {state}", {"location": body.get("location")})

    async def put_ext(
        self, ctx: Context, protected: dict[str, Any], tags: dict[str, str] | None
    ) -> None:
        from fipswizard.azure.arm import ArmError

        body = self.ext_body(protected, tags)
        if body["location"].startswith("<"):
            body["location"] = (await self.read_vm(ctx, expand=False)).location
        try:
            done = await ctx.need_arm().put(
                self.ext_path(), self.params["api"], body, progress=ctx.progress
            )
        except ArmError as err:
            raise self.classify(err.message, err) from None
        self._final = done.body or {}

    def classify(self, text: str, err: Exception) -> StepError:
        from fipswizard.guest.diagnose import diagnose

        found = diagnose(text, flag_on=True, agent_version=self.params.get("agent_version"))
        if found is not None and found.fix in ("reallocate", "keyvault"):
            return FixNeeded(
                f"{self.name} failed: {found.explanation}", found.cost, found.cause, found.fix
            )
        advice = found.explanation if found else "read the extension status in the portal"
        return StepError(f"{self.name} failed: {err}", advice)

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        await ctx.need_arm().delete(self.ext_path(), self.params["api"], progress=ctx.progress)
        return f"removed the {self.name} extension"


class CustomScriptValidation(ExtensionValidation):
    kind = "validate-customscript"
    name, publisher, type_, version = (
        "fipswizard-validate",
        "Microsoft.Azure.Extensions",
        "CustomScript",
        "2.1",
    )

    def actions(self) -> list[Action]:
        body = self.ext_body({"commandToExecute": "cat /etc/os-release"}, TAG)
        return [
            HttpAction(
                "PUT",
                self.url(self.ext_path()),
                body,
                note="a protected-settings round trip; wait for the operation",
            )
        ]

    async def apply(self, ctx: Context, before: Outcome) -> None:
        await self.put_ext(ctx, {"commandToExecute": "cat /etc/os-release"}, TAG)


def _password() -> Secret:
    alphabet = string.ascii_letters + string.digits
    core = "".join(pyrandom.choice(alphabet) for _ in range(20))
    return Secret(core + "#a7Q", "vmaccess_password")


class VmAccessValidation(ExtensionValidation):
    """A temporary user (random name and password, never shown) created then removed."""

    kind = "validate-vmaccess"
    name, publisher, type_, version = (
        "enablevmaccess",
        "Microsoft.OSTCExtensions",
        "VMAccessForLinux",
        "1.5",
    )

    def actions(self) -> list[Action]:
        add = {"username": MASK, "password": MASK, "expiration": "<tomorrow>"}
        return [
            HttpAction(
                "PUT",
                self.url(self.ext_path()),
                self.ext_body(add),
                note="create a temporary user: random name and password, never shown",
            ),
            HttpAction(
                "PUT",
                self.url(self.ext_path()),
                self.ext_body({"remove_user": MASK}, TAG),
                note="remove the temporary user again",
            ),
        ]

    async def apply(self, ctx: Context, before: Outcome) -> None:
        user = Secret("fwchk" + pyrandom.token_hex(4), "vmaccess_user")
        password = _password()
        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        await self.put_ext(
            ctx,
            {"username": user.reveal(), "password": password.reveal(), "expiration": tomorrow},
            None,
        )
        ctx.progress("temporary user created; removing it")
        await self.put_ext(ctx, {"remove_user": user.reveal()}, TAG)

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        return "nothing to undo: the temporary user was removed when validation ran"


class ReallocateFix(ArmStep):
    """Deallocate then start: the platform issues a new (FIPS 140-3) certificate package."""

    kind = "fix-reallocate"

    def confirmation(self) -> str:
        return (
            f"Deallocate and start {self.target}: downtime of a few minutes, and a dynamic "
            "public IP address may change"
        )

    def actions(self) -> list[Action]:
        return [
            HttpAction("POST", self.url(self.vm_path + "/deallocate"), note="wait for it"),
            HttpAction("POST", self.url(self.vm_path + "/start"), note="wait for agent Ready"),
        ]

    async def check(self, ctx: Context) -> Outcome:
        return Outcome(False, "runs only when validation shows the old certificate package")

    async def apply(self, ctx: Context, before: Outcome) -> None:
        arm = ctx.need_arm()
        ctx.progress("deallocating")
        await arm.post(
            self.vm_path + "/deallocate", self.params["api"], retry_safe=True, progress=ctx.progress
        )
        ctx.progress("starting")
        await arm.post(
            self.vm_path + "/start", self.params["api"], retry_safe=True, progress=ctx.progress
        )
        await wait_for_agent(self, ctx, ctx.settings.reboot_timeout)

    async def verify(self, ctx: Context) -> Outcome:
        vm = await self.read_vm(ctx)
        return Outcome(vm.agent_ready, f"agent {vm.agent_status}, power {vm.power_state}")


class KeyVaultFix(ArmStep):
    """Add a Key Vault certificate to osProfile.secrets: forces a new certificate package."""

    kind = "fix-keyvault"

    def body(self, location: str, existing: list[dict[str, Any]]) -> dict[str, Any]:
        url, vault = self.params["certificate_url"], self.params["vault_id"]
        merged = [dict(s) for s in existing]
        for entry in merged:
            if (entry.get("sourceVault") or {}).get("id", "").lower() == vault.lower():
                certs = entry.setdefault("vaultCertificates", [])
                if all(c.get("certificateUrl") != url for c in certs):
                    certs.append({"certificateUrl": url})
                break
        else:
            merged.append(
                {"sourceVault": {"id": vault}, "vaultCertificates": [{"certificateUrl": url}]}
            )
        return {"location": location, "properties": {"osProfile": {"secrets": merged}}}

    def actions(self) -> list[Action]:
        return [
            HttpAction(
                "PUT",
                self.url(self.vm_path),
                self.body("<location from GET>", []),
                note="If-Match: <etag>; existing osProfile.secrets are kept",
            )
        ]

    async def check(self, ctx: Context) -> Outcome:
        vm = await self.read_vm(ctx, expand=False)
        urls = [c.get("certificateUrl") for s in vm.secrets for c in s.get("vaultCertificates", [])]
        facts = {"secrets": vm.secrets, "location": vm.location, "etag": vm.etag}
        return Outcome(self.params["certificate_url"] in urls, "osProfile.secrets", facts)

    async def apply(self, ctx: Context, before: Outcome) -> None:
        f = before.facts
        await ctx.need_arm().put(
            self.vm_path,
            self.params["api"],
            self.body(f["location"], f["secrets"]),
            if_match=f["etag"],
            progress=ctx.progress,
        )
        await wait_for_agent(self, ctx, ctx.settings.reboot_timeout)

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        vm = await self.read_vm(ctx, expand=False)
        body = {"location": vm.location, "properties": {"osProfile": {"secrets": undo["secrets"]}}}
        await ctx.need_arm().put(
            self.vm_path, self.params["api"], body, if_match=vm.etag, progress=ctx.progress
        )
        return "osProfile.secrets restored"
