"""Reading the parts of a VM model and instance view that fipswizard cares about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def vm_facts(body: dict[str, Any], etag: str | None) -> VmFacts:
    props = body.get("properties") or {}
    caps = dict(props.get("additionalCapabilities") or {})
    view = props.get("instanceView") or {}
    ready, display, version, power = agent_and_power(view)
    image = (props.get("storageProfile") or {}).get("imageReference") or {}
    image_text = " ".join(str(image.get(k, "")) for k in ("publisher", "offer", "sku")).strip()
    os_name = " ".join(str(view.get(k, "")) for k in ("osName", "osVersion")).strip()
    return VmFacts(
        location=str(body.get("location", "")),
        etag=etag or body.get("etag"),
        flag=caps.get("enableFips1403Encryption") in (True, "true", "True"),
        provisioning=str(props.get("provisioningState", "")),
        capabilities=caps,
        agent_ready=ready,
        agent_status=display,
        agent_version=version,
        power_state=power,
        image=image_text,
        os_name=os_name,
        secrets=list((props.get("osProfile") or {}).get("secrets") or []),
    )
