"""Validation through extensions with protected settings, and the fixes it can lead to."""

from __future__ import annotations

import datetime as dt
import secrets as pyrandom
import string
from dataclasses import dataclass
from typing import Any

from fipswizard.azure.arm_step import ArmCall, ArmStep
from fipswizard.azure.steps_vm import STOPPED, wait_until_ready
from fipswizard.azure.vm_model import MalformedResource, vm_facts
from fipswizard.context import Context
from fipswizard.engine.events import StepRole
from fipswizard.engine.steps import Action, HttpAction, Outcome
from fipswizard.errors import FipsWizardError, StepError
from fipswizard.secrets import MASK, Secret

TAG = {"fipswizard": "validation"}  # on the final PUT: this VM was validated
USER_TAG = {"fipswizard": "temporary-user"}  # VMAccess's first PUT: a user is still there
# What the preview shows for the values only the run knows (never a real password).
PLACEHOLDERS = {"user": "fwchk<random>", "password": MASK, "expiry": "<tomorrow>"}


@dataclass(frozen=True)
class Put:
    """One extension PUT: its protected settings, tags and the preview's note."""

    protected: dict[str, Any]
    tags: dict[str, str]
    note: str


EXT_API = "extensions"


class FixNeeded(StepError):
    """Validation failed with a signature that a platform fix can cure."""

    def __init__(self, message: str, advice: str, cause: str, fix: str) -> None:
        super().__init__(message, advice)
        self.cause, self.fix = cause, fix


PROOF = {
    "validate-customscript": "the VMAccess check (and every Run Command the guest steps sent)",
    "validate-vmaccess": "the CustomScript check (and every Run Command the guest steps sent)",
}


def _ext_list(body: Any, what: str) -> list[dict[str, Any]]:
    """The extensions of `GET {vm}/extensions` (VirtualMachineExtensionsListResult)."""
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise MalformedResource(what, "the extension list is not {'value': [objects]}")
    return value


def _handler(ext: dict[str, Any]) -> str:
    props = ext.get("properties")
    if not isinstance(props, dict):
        return ""
    return f"{props.get('publisher', '')}.{props.get('type', '')}".lower()


class ExtensionValidation(ArmStep):
    """PUT an extension with protected settings; success proves the certificate package works.

    Azure allows one extension per handler type on Linux ("Multiple VMExtensions per handler
    not supported for OS type 'Linux'", reference arm-conformance.md D6), and fipswizard never
    modifies or removes an extension the run did not create. So `check` first reads the VM's
    extensions: when the VM already has one of this handler (under any name, ours untagged
    included), this check is skipped and says why; `ext_existed` is journalled so rollback
    removes the extension only when this run created it.
    """

    role = StepRole.VALIDATION
    name = ""
    publisher = ""
    type_ = ""
    version = ""

    def ext_path(self) -> str:
        return f"{self.vm_path}/extensions/{self.name}"

    def ext_body(
        self, location: str, protected: dict[str, Any], tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "location": location,
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

    def preview_location(self) -> str:
        return str(self.params.get("location") or "<location from GET>")

    def puts(self, values: dict[str, str]) -> list[Put]:
        """The extension PUTs `apply` sends, in order; `values` fills their variable parts
        (the preview's placeholders, or the run's real values)."""
        raise NotImplementedError

    def calls(self, location: str, values: dict[str, str]) -> list[ArmCall]:
        """The requests, built once: the preview renders them, `check` and `apply` send them."""
        api = self.params["api"]
        return [
            ArmCall("GET", self.vm_path + "/extensions", api, note="the VM's extensions"),
            self.vm_read(expand=False, note="the VM's location, which the extension PUT names"),
            *(
                ArmCall(
                    "PUT",
                    self.ext_path(),
                    api,
                    body=self.ext_body(location, put.protected, put.tags),
                    note=put.note,
                )
                for put in self.puts(values)
            ),
        ]

    def actions(self) -> list[Action]:
        return [self.action(c) for c in self.calls(self.preview_location(), PLACEHOLDERS)]

    async def send_puts(
        self, ctx: Context, values: dict[str, str], between: str = "", *, skip: int = 0
    ) -> None:
        """Read the VM's location, then send the PUTs from number `skip` on (`between` is
        said between two of them)."""
        read = self.calls("", values)[1]
        resp = await read.send(ctx)
        location = vm_facts(resp.body, resp.etag, self.vm_name).location
        for n, call in enumerate(self.calls(location, values)[2 + skip :]):
            if n and between:
                ctx.progress(between)
            await self.put_ext(ctx, call)

    async def check(self, ctx: Context) -> Outcome:
        listing = await self.calls("", PLACEHOLDERS)[0].send(ctx)
        exts = _ext_list(listing.body, f"{self.vm_name}'s extensions")
        mine = next((e for e in exts if str(e.get("name", "")).lower() == self.name.lower()), None)
        full = f"{self.publisher}.{self.type_}".lower()
        theirs = next(
            (e for e in exts if _handler(e) == full and e is not mine and not _ours(e)), None
        )
        if mine is not None and not _ours(mine):
            theirs = mine
        if theirs is not None:
            return Outcome(True, self.skipped(str(theirs.get("name"))), {"ext_existed": True})
        facts: dict[str, Any] = {"ext_existed": mine is not None}
        outcome = self.judge(mine)
        return Outcome(outcome.done, outcome.detail, facts)

    def skipped(self, other: str) -> str:
        return (
            f"skipped: the VM has its own {self.publisher}.{self.type_} extension '{other}', "
            "which fipswizard never modifies or removes (Azure allows one per handler); "
            f"protected settings are still proven by {PROOF[self.kind]}"
        )

    async def verify(self, ctx: Context) -> Outcome:
        # The PUT's operation ends with a GET of the extension: judge that, not a new GET.
        final = self.__dict__.pop("_final", None)
        return self.judge(final) if final is not None else await self.check(ctx)

    def judge(self, body: dict[str, Any] | None) -> Outcome:
        if body is None:
            return Outcome(False, f"{self.name} has not validated this VM yet")
        state = (body.get("properties") or {}).get("provisioningState")
        done = (
            state == "Succeeded" and (body.get("tags") or {}).get("fipswizard") == TAG["fipswizard"]
        )
        return Outcome(done, f"{self.name} {state}")

    async def put_ext(self, ctx: Context, call: ArmCall) -> None:
        from fipswizard.azure.arm import ArmError

        try:
            done = await ctx.need_arm().put(call.path, call.api, call.body, progress=ctx.progress)
        except ArmError as err:
            raise await self.classify(ctx, err.message, err) from None
        self._final = done.body or {}

    async def classify(self, ctx: Context, text: str, err: Exception) -> StepError:
        """Diagnose from facts read now (one GET), after every write that could have changed
        them (the agent's auto-update, the flag): never the plan's agent version."""
        from fipswizard.guest.diagnose import diagnose

        try:
            vm = await self.read_vm(ctx)
            flag, version = vm.flag, vm.agent_version
        except FipsWizardError:
            flag, version = True, None  # the failure text alone decides
        found = diagnose(text, flag_on=flag, agent_version=version)
        if found is not None and found.fix in ("reallocate", "keyvault"):
            return FixNeeded(
                f"{self.name} failed: {found.explanation}", found.cost, found.cause, found.fix
            )
        advice = found.explanation if found else "read the extension status in the portal"
        return StepError(f"{self.name} failed: {err}", advice)

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        existed = undo.get("ext_existed")
        if existed is True or (existed is None and not await self._tagged(ctx)):
            return f"the {self.name} extension was not created by this run: left as it is"
        await ctx.need_arm().delete(self.ext_path(), self.params["api"], progress=ctx.progress)
        return f"removed the {self.name} extension this run created"

    async def _tagged(self, ctx: Context) -> bool:
        """Journals without `ext_existed` (older runs): ours only if it carries our tag."""
        from fipswizard.azure.arm import NotFound

        try:
            body = (await ctx.need_arm().get(self.ext_path(), self.params["api"])).body
        except NotFound:
            return False
        return isinstance(body, dict) and _ours(body)


def _ours(ext: dict[str, Any]) -> bool:
    """Created by fipswizard: every PUT it sends carries the `fipswizard` tag."""
    tags = ext.get("tags")
    return isinstance(tags, dict) and tags.get("fipswizard") in (
        TAG["fipswizard"],
        USER_TAG["fipswizard"],
    )


class CustomScriptValidation(ExtensionValidation):
    kind = "validate-customscript"
    name, publisher, type_, version = (
        "fipswizard-validate",
        "Microsoft.Azure.Extensions",
        "CustomScript",
        "2.1",
    )

    def puts(self, values: dict[str, str]) -> list[Put]:
        note = (
            "a protected-settings round trip (skipped if the VM has its own CustomScript); "
            "wait for the operation"
        )
        return [Put({"commandToExecute": COMMAND}, TAG, note)]

    async def apply(self, ctx: Context, before: Outcome) -> None:
        await self.send_puts(ctx, {})


COMMAND = "cat /etc/os-release"


def _password() -> Secret:
    alphabet = string.ascii_letters + string.digits
    core = "".join(pyrandom.choice(alphabet) for _ in range(20))
    return Secret(core + "#a7Q", "vmaccess_password")


class VmAccessValidation(ExtensionValidation):
    """A temporary user created then removed. Its random name is not a secret: it is
    journalled (in the step's params and facts, before the first PUT) so that a run killed
    between "create" and "remove" can remove it later. The password is a Secret, never
    journalled."""

    kind = "validate-vmaccess"
    name, publisher, type_, version = (
        "enablevmaccess",
        "Microsoft.OSTCExtensions",
        "VMAccessForLinux",
        "1.5",
    )

    def puts(self, values: dict[str, str]) -> list[Put]:
        user = values["user"]
        add = {"username": user, "password": values["password"], "expiration": values["expiry"]}
        return [
            Put(add, USER_TAG, "create a temporary user (skipped if the VM has its own VMAccess)"),
            Put({"remove_user": user}, TAG, "remove the temporary user again"),
        ]

    @property
    def temp_user(self) -> str:
        # Kept in params so a re-check after a fix reuses the name the journal holds.
        return str(self.params.setdefault("temp_user", "fwchk" + pyrandom.token_hex(4)))

    async def check(self, ctx: Context) -> Outcome:
        outcome = await super().check(ctx)
        if not outcome.done:
            outcome.facts["temp_user"] = self.temp_user
        return outcome

    async def apply(self, ctx: Context, before: Outcome) -> None:
        user = str(before.facts.get("temp_user") or self.temp_user)
        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        values = {"user": user, "password": _password().reveal(), "expiry": tomorrow}
        await self.send_puts(ctx, values, f"temporary user {user} created; removing it")

    async def recover(self, ctx: Context, undo: dict[str, Any]) -> str | None:
        """Killed between "create user" and "remove user": remove it (removing a user that
        is not there succeeds, so this is safe after a complete apply too)."""
        user = undo.get("temp_user")
        if not user or undo.get("ext_existed", True):
            return None
        # Only the second PUT ("remove_user"): the first's values are never sent.
        await self.send_puts(ctx, {**PLACEHOLDERS, "user": str(user)}, skip=1)
        return f"removed the temporary user {user} an interrupted run may have left"


class ReallocateFix(ArmStep):
    """Deallocate then start: the platform issues a new (FIPS 140-3) certificate package."""

    kind = "fix-reallocate"
    role = StepRole.FIX

    def confirmation(self) -> str:
        return (
            f"Deallocate and start {self.target}: downtime of a few minutes, and a dynamic "
            "public IP address may change"
        )

    def calls(self) -> list[ArmCall]:
        """Built once: the preview renders them, apply sends them (the wait is the agent's)."""
        api = self.params["api"]
        return [
            ArmCall("POST", self.vm_path + "/deallocate", api, note="wait for it"),
            ArmCall("POST", self.vm_path + "/start", api, note="wait for it"),
            self.vm_read(note="poll until the agent is Ready and the VM running"),
        ]

    def actions(self) -> list[Action]:
        return [self.action(call) for call in self.calls()]

    async def check(self, ctx: Context) -> Outcome:
        # Read now (not the plan): recovery needs the power state from before the deallocate.
        vm = await self.read_vm(ctx, expand=True)
        return Outcome(
            False,
            "runs only when validation shows the old certificate package",
            {"power_before": vm.power_state},
        )

    async def recover(self, ctx: Context, undo: dict[str, Any]) -> str | None:
        """Killed between deallocate and start: the VM was running, so start it again."""
        if undo.get("power_before") != "running":
            return None
        vm = await self.read_vm(ctx)
        if vm.power_state == "running" and vm.agent_ready:
            return None
        if vm.power_state in (*STOPPED, "deallocating", "stopping"):
            ctx.progress(f"{self.vm_name} was deallocated by an interrupted run: starting it")
            await ctx.need_arm().post(
                self.vm_path + "/start", self.params["api"], retry_safe=True, progress=ctx.progress
            )
        await wait_until_ready(self, ctx, ctx.settings.reboot_timeout)
        return f"started {self.vm_name}, which an interrupted run had deallocated"

    async def power_cycle(self, ctx: Context) -> None:
        """The deallocate, then the start (each waited for; resending either is harmless).
        The caller waits for the agent. The guest reboot's one-boot mode sends these too."""
        deallocate, start, _poll = self.calls()
        ctx.progress("deallocating")
        await deallocate.send(ctx, retry_safe=True)
        ctx.progress("starting")
        await start.send(ctx, retry_safe=True)

    async def apply(self, ctx: Context, before: Outcome) -> None:
        await self.power_cycle(ctx)
        await wait_until_ready(self, ctx, ctx.settings.reboot_timeout)

    async def verify(self, ctx: Context) -> Outcome:
        vm = await self.read_vm(ctx)
        return Outcome(vm.agent_ready, f"agent {vm.agent_status}, power {vm.power_state}")


class KeyVaultFix(ArmStep):
    """Add a Key Vault certificate to osProfile.secrets: forces a new certificate package."""

    kind = "fix-keyvault"
    role = StepRole.FIX

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
        f = before.facts  # check's read, made for this write: never the plan's
        if not f.get("etag"):
            raise MalformedResource(self.vm_name, "the read gave no ETag: no PUT without If-Match")
        await ctx.need_arm().put(
            self.vm_path,
            self.params["api"],
            self.body(f["location"], f["secrets"]),
            if_match=f["etag"],
            progress=ctx.progress,
        )
        await wait_until_ready(self, ctx, ctx.settings.reboot_timeout)

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        vm = await self.read_vm(ctx, expand=False)
        if not vm.etag:
            raise MalformedResource(self.vm_name, "the read gave no ETag: no PUT without If-Match")
        body = {"location": vm.location, "properties": {"osProfile": {"secrets": undo["secrets"]}}}
        await ctx.need_arm().put(
            self.vm_path, self.params["api"], body, if_match=vm.etag, progress=ctx.progress
        )
        return "osProfile.secrets restored"
