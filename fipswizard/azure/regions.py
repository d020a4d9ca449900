"""The dated region table (recipes/regions.toml): advice only, the VM PUT has the final word."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any


class RegionStatus(StrEnum):
    KNOWN_SUPPORTED = "known-supported"
    UNKNOWN = "unknown"
    KNOWN_UNSUPPORTED = "known-unsupported"


@dataclass(frozen=True)
class RegionAdvice:
    region: str
    status: RegionStatus
    reviewed: str
    sources: tuple[str, ...]

    def describe(self) -> str:
        tail = f"(table reviewed {self.reviewed}; the VM PUT has the final word)"
        return {
            RegionStatus.KNOWN_SUPPORTED: f"{self.region}: known supported {tail}",
            RegionStatus.UNKNOWN: f"{self.region}: not in the table, unknown {tail}",
            RegionStatus.KNOWN_UNSUPPORTED: f"{self.region}: listed as unsupported {tail}",
        }[self.status]


@cache
def _table() -> dict[str, Any]:
    text = (resources.files("fipswizard_recipes") / "regions.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def normalise(region: str) -> str:
    """Display names and ARM names alike: lower case, no spaces ("UK South" -> "uksouth")."""
    return region.replace(" ", "").lower()


def region_advice(cloud: str, region: str) -> RegionAdvice:
    table = _table()
    entry = table["clouds"].get(cloud, table["clouds"]["custom"])
    name = normalise(region)
    if name in entry.get("unsupported", []):
        status = RegionStatus.KNOWN_UNSUPPORTED
    elif name in entry.get("supported", []):
        status = RegionStatus.KNOWN_SUPPORTED
    else:
        status = RegionStatus.UNKNOWN
    return RegionAdvice(name, status, table["reviewed"], tuple(entry.get("sources", [])))
