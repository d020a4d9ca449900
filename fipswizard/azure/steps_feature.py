"""Subscription scope: the preview feature opt-in, then the Microsoft.Compute re-register."""

from __future__ import annotations

from typing import Any

from fipswizard.azure.arm_step import ArmCall, ArmStep
from fipswizard.azure.vm_model import vm_facts
from fipswizard.context import Context
from fipswizard.engine.steps import Action, Outcome
from fipswizard.errors import StepError

# States compared casefolded: Microsoft's doc output shows "Registered", but the spec examples
# (Microsoft.Features 2021-07-01 registerFeature.json, 2025-03-01 getFeature.json) return
# "registered"; ARM treats these enum strings case-insensitively.
REGISTERED = "registered"
WAITING = ("registering", "pending")
# The 404 code of a feature that does not exist (what the sandbox sends; UNCONFIRMED on a live
# subscription, see reference arm-conformance.md D8). Any other 404 (SubscriptionNotFound, a
# wrong cloud) is an error, not a reason to skip the opt-in.
FEATURE_NOT_FOUND = frozenset({"featurenotfound"})


def _is(state: str | None, *names: str) -> bool:
    return state is not None and state.casefold() in names


class FeatureStep(ArmStep):
    """Register Microsoft.Compute/<feature>, wait until Registered, re-register the provider.

    A feature that does not exist (the newest Microsoft doc dropped the step) is skipped
    with a note. Rollback unregisters only what this run registered, and only when asked.
    """

    kind = "feature"
    resume_incomplete = True  # a killed run may have registered but not re-registered

    @property
    def feature_path(self) -> str:
        return (
            f"/subscriptions/{self.params['subscription']}/providers/Microsoft.Features"
            f"/providers/Microsoft.Compute/features/{self.params['feature']}"
        )

    @property
    def provider(self) -> str:
        return f"/subscriptions/{self.params['subscription']}/providers/Microsoft.Compute"

    @property
    def provider_path(self) -> str:
        return f"{self.provider}/register"

    def calls(self) -> list[ArmCall]:
        """(read, register, re-register provider, read provider): built once, the preview
        renders them and the run sends them."""
        api, resources = self.params["api"], self.params["resources_api"]
        return [
            ArmCall("GET", self.feature_path, api, note="read the feature state"),
            ArmCall(
                "POST",
                self.feature_path + "/register",
                api,
                note="only if NotRegistered; then poll the GET until Registered",
            ),
            ArmCall(
                "POST",
                self.provider_path,
                resources,
                note="re-register the provider so the feature propagates",
            ),
            ArmCall(
                "GET", self.provider, resources, note="poll until registrationState is Registered"
            ),
        ]

    def actions(self) -> list[Action]:
        return [self.action(call) for call in self.calls()]

    async def _state(self, ctx: Context) -> str | None:
        from fipswizard.azure.arm import NotFound

        try:
            resp = await self.calls()[0].send(ctx)
        except NotFound as err:
            if err.code.casefold() in FEATURE_NOT_FOUND:
                return None
            raise
        return str(((resp.body or {}).get("properties") or {}).get("state", "NotSpecified"))

    async def check(self, ctx: Context) -> Outcome:
        state = await self._state(ctx)
        if state is None:
            return Outcome(
                True,
                f"feature {self.params['feature']} does not exist in this "
                "subscription: skipped (newer Azure no longer needs it)",
                {"previous": None},
            )
        detail = f"feature state {state}"
        return Outcome(_is(state, REGISTERED), detail, {"previous": state})

    async def apply(self, ctx: Context, before: Outcome) -> None:
        _read, register, reregister, _provider = self.calls()
        state = await self._state(ctx)
        if state is None:
            return
        if not _is(state, REGISTERED, *WAITING):
            await register.send(ctx, retry_safe=True)
        await self._wait_registered(ctx)
        ctx.progress("re-registering the Microsoft.Compute provider")
        await reregister.send(ctx, retry_safe=True)
        await self._wait_provider(ctx)

    async def _wait_registered(self, ctx: Context) -> None:
        timeout = ctx.settings.feature_timeout
        start = ctx.clock()
        while True:
            state = await self._state(ctx)
            waited = ctx.clock() - start
            if _is(state, REGISTERED):
                return
            if not _is(state, *WAITING):
                raise StepError(
                    f"feature registration ended in state {state}",
                    "check the feature with `az feature show` and re-run",
                )
            if waited >= timeout:
                raise StepError(
                    f"feature still {state} after {waited:.0f}s (this can take hours)",
                    "re-run the same `fipswizard apply` later: it resumes from the journal "
                    "and registration keeps going meanwhile",
                )
            ctx.waiting(
                f"feature {state} ({waited:.0f}s; times out at {timeout:.0f}s)", waited, timeout
            )
            await ctx.sleep(ctx.settings.feature_poll)

    async def _wait_provider(self, ctx: Context) -> None:
        """Until GET provider says Registered: the feature reaches Compute only then (D7)."""
        read = self.calls()[3]
        timeout = ctx.settings.feature_timeout
        start = ctx.clock()
        while True:
            resp = await read.send(ctx)
            body = resp.body if isinstance(resp.body, dict) else {}
            state = body.get("registrationState")
            waited = ctx.clock() - start
            if not isinstance(state, str):
                raise StepError(
                    f"the Microsoft.Compute provider answer has no registrationState "
                    f"(keys: {sorted(body)})",
                    "check it with `az provider show -n Microsoft.Compute` and re-run",
                )
            if _is(state, REGISTERED):
                return
            if state.casefold() != "registering":
                raise StepError(
                    f"provider Microsoft.Compute is {state} after the re-register",
                    "register it with `az provider register -n Microsoft.Compute` and re-run",
                )
            if waited >= timeout:
                raise StepError(
                    f"provider Microsoft.Compute still {state} after {waited:.0f}s",
                    "re-run the same `fipswizard apply` later: it resumes from the journal",
                )
            ctx.waiting(
                f"provider Microsoft.Compute {state} ({waited:.0f}s; times out at {timeout:.0f}s)",
                waited,
                timeout,
            )
            await ctx.sleep(ctx.settings.feature_poll)

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        if not self.params.get("unregister"):
            return "left registered: it is subscription-wide; pass --unregister-feature to undo it"
        previous = undo.get("previous")
        if previous is None or _is(str(previous), REGISTERED):
            return "was registered before this run: left as it is"
        flagged = await self._vms_with_flag(ctx)
        if flagged:
            shown = ", ".join(flagged[:5]) + (
                f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
            )
            return (
                f"left registered: {len(flagged)} VM(s) of subscription "
                f"{self.params['subscription']} keep enableFips1403Encryption on ({shown}); "
                "roll those back (or set their flag off) first, then run "
                "`fipswizard rollback --unregister-feature` again"
            )
        await ctx.need_arm().post(
            self.feature_path + "/unregister", self.params["api"], retry_safe=True
        )
        return f"feature unregistered (it was {undo.get('previous')} before the run)"

    async def _vms_with_flag(self, ctx: Context) -> list[str]:
        """Names of the subscription's VMs whose flag is on, read now (one paged list of the
        whole subscription: VMs outside this run count too). Unregistering the opt-in under
        them would leave them inconsistent, so the read must parse: a VM that does not is a
        MalformedResource and nothing is unregistered."""
        from fipswizard.azure.inventory import list_all

        path = f"/subscriptions/{self.params['subscription']}/providers/Microsoft.Compute"
        vms = await list_all(ctx.need_arm(), f"{path}/virtualMachines", ctx.settings.compute_api)
        flagged = []
        for vm in vms:
            name = str(vm.get("name") or vm.get("id") or "?")
            if vm_facts(vm, None, f"VM {name}").flag:
                flagged.append(name)
        return sorted(flagged)
