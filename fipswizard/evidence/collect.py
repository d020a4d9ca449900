"""Read-only collection of what `status` and `evidence` show, per VM.

Per subscription: the feature (`GET .../features/OptInToFips1403Compliance`) and the
Microsoft.Compute provider registration. Per VM: one `GET vm?$expand=instanceView` and, with
`guest`, the one read-only probe (guest/detect.py PROBE_SCRIPT) through action Run Command.
Nothing here sends a PUT, PATCH or DELETE; the probe is the only Run Command.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from fipswizard.azure.arm import ArmClient, ArmError
from fipswizard.azure.regions import region_advice
from fipswizard.azure.vm_model import MalformedResource, vm_facts
from fipswizard.context import Settings, Target
from fipswizard.errors import FipsWizardError
from fipswizard.guest.detect import PROBE_SCRIPT, GuestFacts, parse_probe
from fipswizard.recipe import Recipe
from fipswizard.secrets import redact

PROBE_TIMEOUT = 300.0
NOT_OFFERED = "not offered (FeatureNotFound)"  # the feature GET's 404: nothing to opt in to
FEATURE_OK = ("Registered", NOT_OFFERED)

# VM model keys that can hold secrets or user payloads (Compute REST spec, VirtualMachine:
# osProfile.adminPassword/customData/secrets, userData; extension settings may carry keys).
_STRIP_PROFILE = ("adminPassword", "customData", "secrets")
_STRIP_EXTENSION = ("settings", "protectedSettings", "protectedSettingsFromKeyVault")


@dataclass
class SubscriptionFacts:
    subscription: str
    feature_state: str  # Registered, NotRegistered, Pending, ... or "unknown: why"
    provider_state: str
    feature_api: str
    provider_api: str


@dataclass
class VmEvidence:
    target: Target
    api_version: str
    facts: dict[str, Any] = field(default_factory=dict)  # vm_model.VmFacts.to_dict()
    model: dict[str, Any] | None = None  # the VM GET, secrets and custom data stripped
    extensions: list[dict[str, str]] = field(default_factory=list)
    region: str = ""  # region_advice(...).status
    region_detail: str = ""
    error: str | None = None
    guest: GuestFacts | None = None
    guest_error: str | None = None
    probe_stdout: str = ""
    probe_rc: int | None = None

    @property
    def name(self) -> str:
        return self.target.vm


@dataclass
class Fleet:
    cloud: str
    subscriptions: dict[str, SubscriptionFacts]
    vms: list[VmEvidence]
    guest_checked: bool


def strip_model(body: dict[str, Any]) -> dict[str, Any]:
    """The VM model without anything secret or user-supplied (then redacted as text too)."""
    out = copy.deepcopy(body)
    props = out.get("properties") or {}
    profile = props.get("osProfile") or {}
    for key in _STRIP_PROFILE:
        if key in profile:
            profile[key] = "(removed by fipswizard)"
    if "userData" in props:
        props["userData"] = "(removed by fipswizard)"
    for res in out.get("resources") or []:
        rprops = res.get("properties") if isinstance(res, dict) else None
        for key in _STRIP_EXTENSION:
            if isinstance(rprops, dict) and key in rprops:
                rprops[key] = "(removed by fipswizard)"
    return out


def _extensions(body: dict[str, Any]) -> list[dict[str, str]]:
    view = (body.get("properties") or {}).get("instanceView") or {}
    rows = []
    for ext in view.get("extensions") or []:
        if not isinstance(ext, dict):
            continue
        statuses = ext.get("statuses") or [{}]
        first = statuses[0] if isinstance(statuses[0], dict) else {}
        rows.append(
            {
                "name": str(ext.get("name", "")),
                "type": str(ext.get("type", "")),
                "handler_version": str(ext.get("typeHandlerVersion", "")),
                "status": str(first.get("displayStatus") or first.get("code") or "unknown"),
            }
        )
    return sorted(rows, key=lambda r: r["name"])


async def _subscription(arm: ArmClient, sub: str, settings: Settings) -> SubscriptionFacts:
    feature_path = (
        f"/subscriptions/{sub}/providers/Microsoft.Features/providers/Microsoft.Compute"
        f"/features/{settings.feature_name}"
    )
    provider_path = f"/subscriptions/{sub}/providers/Microsoft.Compute"
    states = []
    for path, api, key in (
        (feature_path, settings.features_api, "state"),
        (provider_path, settings.resources_api, "registrationState"),
    ):
        try:
            body = (await arm.get(path, api)).body
            holder = body.get("properties", body) if key == "state" else body
            states.append(str(holder.get(key, "unknown")))
        except ArmError as err:
            if err.exit_code == 3:
                raise
            if err.code == "FeatureNotFound":  # this subscription has no opt-in to make
                states.append(NOT_OFFERED)
            else:
                states.append(f"unknown (ARM {err.label} {err.code})")
        except AttributeError:
            states.append("unknown: the answer is not a JSON object")
    return SubscriptionFacts(
        sub, states[0], states[1], settings.features_api, settings.resources_api
    )


async def _vm(
    arm: ArmClient, target: Target, settings: Settings, cloud: str, guest: bool
) -> VmEvidence:
    ev = VmEvidence(target, settings.compute_api)
    try:
        resp = await arm.get(target.vm_path, settings.compute_api, **{"$expand": "instanceView"})
        facts = vm_facts(resp.body, resp.etag, f"VM {target.vm}")
    except ArmError as err:
        if err.exit_code == 3:
            raise
        ev.error = str(err).splitlines()[0]
        return ev
    except MalformedResource as err:
        ev.error = str(err).splitlines()[0]  # never write from (or assess) a read not parsed
        return ev
    ev.facts = facts.to_dict()
    ev.model = strip_model(resp.body)
    ev.extensions = _extensions(resp.body)
    advice = region_advice(cloud, facts.location)
    ev.region, ev.region_detail = str(advice.status), advice.describe()
    if guest:
        await _probe(arm, ev, settings)
    return ev


async def _probe(arm: ArmClient, ev: VmEvidence, settings: Settings) -> None:
    from fipswizard.guest.runners import RunCommandRunner

    if ev.facts.get("power_state") != "running":
        ev.guest_error = f"not probed: the VM is {ev.facts.get('power_state')}"
        return
    if not ev.facts.get("agent_ready"):
        ev.guest_error = "not probed: the VM agent is not Ready (Run Command needs it)"
        return
    try:
        result = await RunCommandRunner(arm, ev.target, settings).run(
            PROBE_SCRIPT, read_only=True, timeout=PROBE_TIMEOUT
        )
    except FipsWizardError as err:
        if getattr(err, "exit_code", 1) == 3:
            raise
        ev.guest_error = f"probe failed: {redact(str(err).splitlines()[0])}"
        return
    ev.probe_rc, ev.probe_stdout = result.rc, redact(result.stdout)
    facts = parse_probe(result.stdout)
    if not facts.complete:
        ev.guest_error = "the probe's answer could not be parsed (cut or empty)"
        return
    ev.guest = facts


async def collect(
    recipe: Recipe, arm: ArmClient, settings: Settings, *, guest: bool, concurrency: int = 8
) -> Fleet:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(target: Target) -> VmEvidence:
        async with gate:
            return await _vm(arm, target, settings, recipe.cloud, guest)

    subs = await asyncio.gather(*(_subscription(arm, s, settings) for s in recipe.subscriptions))
    vms = await asyncio.gather(*(one(rt.target) for rt in recipe.targets))
    return Fleet(recipe.cloud, {s.subscription: s for s in subs}, list(vms), guest)
