"""Reading the parts of a VM model and instance view that fipswizard cares about.

The read is strict: a write is only ever built from a body that parsed completely (trust
rule "never write from a read you could not parse"), so anything malformed raises
`MalformedResource` naming the VM and what was wrong, instead of defaulting to "" or {}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fipswizard.errors import StepError


class MalformedResource(StepError):
    """ARM answered a read with a body fipswizard cannot trust: nothing is built from it."""

    def __init__(self, what: str, problem: str) -> None:
        super().__init__(
            f"{what}: unusable answer from ARM: {problem}; nothing was written",
            "read the resource with `az vm show` (or the portal) to see what ARM returns, "
            "then re-run; fipswizard never writes from a read it could not parse",
        )
        self.what, self.problem = what, problem


@dataclass(frozen=True)
class VmFacts:
    """What one `GET virtualMachines/{vm}?$expand=instanceView` tells us."""

    location: str
    etag: str | None
    flag: bool
    provisioning: str
    capabilities: dict[str, Any]
    agent_ready: bool
    agent_status: str
    agent_version: str
    power_state: str
    image: str
    os_name: str
    secrets: list[dict[str, Any]]
    agent_time: str | None = None  # when the agent last reported: a reboot changes it

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "etag": self.etag,
            "flag": self.flag,
            "provisioning": self.provisioning,
            "agent_ready": self.agent_ready,
            "agent_status": self.agent_status,
            "agent_version": self.agent_version,
            "power_state": self.power_state,
            "image": self.image,
            "os_name": self.os_name,
        }


def agent_and_power(view: dict[str, Any]) -> tuple[bool, str, str, str]:
    """(ready, display status, agent version, power state) from an instance view."""
    agent = view.get("vmAgent") or {}
    statuses = agent.get("statuses") or []
    display = str(statuses[0].get("displayStatus", "Unknown")) if statuses else "Unknown"
    power = "unknown"
    for status in view.get("statuses") or []:
        code = str(status.get("code", ""))
        if code.startswith("PowerState/"):
            power = code.split("/", 1)[1]
    return display == "Ready", display, str(agent.get("vmAgentVersion", "Unknown")), power


def agent_reported_at(view: dict[str, Any]) -> str | None:
    """The time of the agent's status (vmAgent.statuses[0].time in the instance view):
    a status from before a restart is stale even if it says Ready."""
    statuses = (view.get("vmAgent") or {}).get("statuses") or []
    value = statuses[0].get("time") if statuses and isinstance(statuses[0], dict) else None
    return str(value) if value else None


def _object(value: Any, where: str, what: str, *, optional: bool = True) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise MalformedResource(what, f"'{where}' is {_kind(value)}, expected a JSON object")
    return value


def _kind(value: Any) -> str:
    shown = repr(value)
    return f"{type(value).__name__} {shown[:40]}{'...' if len(shown) > 40 else ''}"


def vm_facts(body: Any, etag: str | None, what: str = "the VM") -> VmFacts:
    """Parse a VM GET (or a VM PUT's final body); raise MalformedResource if it is not one."""
    body = _object(body, "body", what, optional=False)
    props = _object(body.get("properties"), "properties", what, optional=False)
    location = body.get("location")
    if not isinstance(location, str) or not location.strip():
        raise MalformedResource(what, f"'location' is {_kind(location)}, expected a region name")
    caps = dict(_object(props.get("additionalCapabilities"), "additionalCapabilities", what))
    view = _object(props.get("instanceView"), "properties.instanceView", what)
    for key in ("vmAgent",):
        _object(view.get(key), f"instanceView.{key}", what)
    if not isinstance(view.get("statuses") if view.get("statuses") is not None else [], list):
        raise MalformedResource(what, "'instanceView.statuses' is not a list")
    profile = _object(props.get("osProfile"), "osProfile", what)
    secrets = profile.get("secrets")
    secrets = [] if secrets is None else secrets
    if not isinstance(secrets, list) or not all(isinstance(s, dict) for s in secrets):
        raise MalformedResource(what, "'osProfile.secrets' is not a list of objects")
    flag = caps.get("enableFips1403Encryption")
    if flag not in (None, True, False, "true", "false", "True", "False"):
        raise MalformedResource(
            what, f"'enableFips1403Encryption' is {_kind(flag)}, expected true or false"
        )
    ready, display, version, power = agent_and_power(view)
    storage = _object(props.get("storageProfile"), "storageProfile", what)
    image = _object(storage.get("imageReference"), "storageProfile.imageReference", what)
    image_text = " ".join(str(image.get(k, "")) for k in ("publisher", "offer", "sku")).strip()
    os_name = " ".join(str(view.get(k, "")) for k in ("osName", "osVersion")).strip()
    body_etag = body.get("etag")
    return VmFacts(
        location=location,
        etag=etag or (body_etag if isinstance(body_etag, str) else None),
        flag=flag in (True, "true", "True"),
        provisioning=str(props.get("provisioningState", "")),
        capabilities=caps,
        agent_ready=ready,
        agent_status=display,
        agent_version=version,
        power_state=power,
        image=image_text,
        os_name=os_name,
        secrets=[dict(s) for s in secrets],
        agent_time=agent_reported_at(view),
    )
