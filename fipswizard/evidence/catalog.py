"""The dated CMVP catalog (recipes/cmvp.toml) and the claim level of one live module.

Claim levels follow the matching rules of the evidence reference (section 2.7), and FedRAMP's
cryptographic module policy (FRR8: never "FIPS compliant"; FRR7: name update streams). Status
is recomputed from each row's sunset date against the evidence date, never taken as stored.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from fipswizard.errors import BadInput

CATALOG_FILE = "cmvp.toml"
KINDS = ("openssl", "kernel")
STATUSES = ("active", "historical", "in-process")

# Report wording per level: "validated" appears only where a catalog row supports it.
VALIDATED = "validated"
VALIDATED_INTERIM = "validated-interim"
UPDATE_STREAM = "update-stream"
IN_PROCESS = "in-process"
HISTORICAL = "historical"
NONE = "none"
SUNSET_WARNING_DAYS = 90
_ARCH = re.compile(r"\.(x86_64|aarch64)$")


@dataclass(frozen=True)
class Row:
    module: str
    kind: str
    os: str
    name_pattern: str
    version: str
    lineage: str
    certificate: int
    standard: str
    status: str
    interim: bool
    sunset: date | None
    source: str
    last_reviewed: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "kind": self.kind,
            "certificate": self.certificate,
            "standard": self.standard,
            "status": self.status,
            "interim": self.interim,
            "sunset": self.sunset.isoformat() if self.sunset else "",
            "source": self.source,
            "last_reviewed": self.last_reviewed,
        }

    def live(self, today: date) -> bool:
        """Active on `today`: listed Active and its sunset not passed."""
        return self.status == "active" and (self.sunset is None or today <= self.sunset)


@dataclass(frozen=True)
class Catalog:
    snapshot: str
    source: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Claim:
    """The claim level of one live module on one VM at the evidence date."""

    kind: str
    observed_name: str
    observed_version: str
    level: str
    wording: str  # what the report says, e.g. "Validated, interim (CMVP #4794), 1380 days left"
    row: Row | None
    days_to_sunset: int | None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "observed_name": self.observed_name,
            "observed_version": self.observed_version,
            "level": self.level,
            "wording": self.wording,
            "certificate": self.row.to_dict() if self.row else None,
            "days_to_sunset": self.days_to_sunset,
            "warnings": list(self.warnings),
        }


def _date(text: str, where: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{where}: sunset {text!r} is not an ISO date (YYYY-MM-DD)") from None


def parse_catalog(text: str, where: str = CATALOG_FILE) -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BadInput(f"{where}: {err}") from None
    head = data.get("catalog", {})
    rows = []
    for n, raw in enumerate(data.get("row", []), 1):
        at = f"{where}: row {n}"
        kind, status = raw.get("kind"), raw.get("status")
        if kind not in KINDS:
            raise BadInput(f"{at}: kind is {kind!r}, allowed: {', '.join(KINDS)}")
        if status not in STATUSES:
            raise BadInput(f"{at}: status is {status!r}, allowed: {', '.join(STATUSES)}")
        for key in ("os", "name_pattern", "version", "lineage"):
            try:
                re.compile(str(raw.get(key, "")))
            except re.error as err:
                raise BadInput(f"{at}: {key} is not a regex: {err}") from None
        rows.append(
            Row(
                module=str(raw["module"]),
                kind=kind,
                os=str(raw["os"]),
                name_pattern=str(raw.get("name_pattern", "")),
                version=str(raw.get("version", "")),
                lineage=str(raw.get("lineage", "")),
                certificate=int(raw.get("certificate", 0)),
                standard=str(raw["standard"]),
                status=status,
                interim=bool(raw.get("interim", False)),
                sunset=_date(str(raw.get("sunset", "")), at),
                source=str(raw["source"]),
                last_reviewed=str(raw["last_reviewed"]),
            )
        )
    return Catalog(str(head.get("snapshot", "")), str(head.get("source", "")), tuple(rows))


@cache
def load_catalog() -> Catalog:
    text = (resources.files("fipswizard_recipes") / CATALOG_FILE).read_text(encoding="utf-8")
    return parse_catalog(text)


def _full(pattern: str, text: str) -> bool:
    return bool(pattern) and re.fullmatch(pattern, text) is not None


def assess(
    catalog: Catalog,
    kind: str,
    os_key: str,
    name: str,
    version: str,
    today: date,
    *,
    fips_on: bool,
) -> Claim:
    """The claim level of the live module (`kind`, provider `name`, `version`) on a guest
    whose "<os-release ID> <VERSION_ID>" is `os_key`, at `today`."""

    def claim(level: str, wording: str, row: Row | None = None, *warn: str) -> Claim:
        days = (row.sunset - today).days if row and row.sunset else None
        return Claim(kind, name, version, level, wording, row, days, tuple(warn))

    if not fips_on:
        return claim(NONE, "None: FIPS mode is not on")
    if not version:
        return claim(NONE, "None (FIPS mode only): the module version could not be read")
    if kind == "kernel":  # EL's `uname -r` (and fips_version = UTS_RELEASE) end in the arch
        version = _ARCH.sub("", version)
    rows = [
        r
        for r in catalog.rows
        if r.kind == kind
        and re.search(r.os, os_key)
        and (kind != "openssl" or re.search(r.name_pattern, name))
    ]
    exact = [r for r in rows if _full(r.version, version)]
    for row in exact:
        if row.live(today):
            days = (row.sunset - today).days if row.sunset else None
            warn = _warnings(row, days)
            if row.interim:
                tail = f", {days} days to sunset {row.sunset}" if days is not None else ""
                return claim(
                    VALIDATED_INTERIM,
                    f"Validated, interim (CMVP #{row.certificate}, FIPS {row.standard}){tail}",
                    row,
                    *warn,
                )
            return claim(
                VALIDATED, f"Validated (CMVP #{row.certificate}, FIPS {row.standard})", row, *warn
            )
    stream = [r for r in rows if r.certificate and r.live(today) and _full(r.lineage, version)]
    if stream:
        row = stream[0]
        return claim(
            UPDATE_STREAM,
            f"Update stream of CMVP #{row.certificate} (FIPS {row.standard}): version {version} "
            "is not the validated one",
            row,
            *_warnings(row, (row.sunset - today).days if row.sunset else None),
        )
    mip = [r for r in rows if r.status == "in-process" and _full(r.lineage or r.version, version)]
    if mip:
        return claim(IN_PROCESS, f"Module in process at CMVP ({mip[0].module})", mip[0])
    if exact:
        row = exact[0]
        return claim(
            HISTORICAL,
            f"Historical (CMVP #{row.certificate}): sunset {row.sunset} has passed or the "
            "certificate is no longer Active",
            row,
        )
    return claim(
        NONE, f"None (FIPS mode only): no CMVP certificate covers {name or kind} {version}"
    )


def _warnings(row: Row, days: int | None) -> list[str]:
    if days is not None and days <= SUNSET_WARNING_DAYS:
        return [f"CMVP #{row.certificate} reaches its sunset in {days} days ({row.sunset})"]
    return []
