"""Fault injection (random error answers, dropped connections, added latency) and answer modes.

Answer modes switch the sandbox to awkward answers that real Azure gives (reference
arm-conformance.md section 5): `poll_hints` = "integer" sends only whole-second Retry-After on
operations (what Compute documents), "none" sends no hint at all, "both" sends Retry-After and
retry-after-ms; the default "fast" sends only retry-after-ms, because the sandbox compresses
operations to fractions of a second and whole seconds would make the demo and tests wait
several times longer than the simulated work (azure-core honours retry-after-ms when no
Retry-After is present). `feature_state_case` = "lower" answers feature states as the spec
examples do ("registered": Microsoft.Features registerFeature.json, getFeature.json).
`provider_seconds` keeps a provider `Registering` that long after its register POST.

Random faults use a seeded RNG that draws the same number of values for every ARM
request, so a given seed and request sequence always fail the same way. One-shot rules
(`rules`) target a specific request, e.g. "drop the next PUT of vm X after applying it",
which is what idempotence tests need.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("status", "drop-before", "drop-after")
DROP_PHASES = ("random", "before", "after")
POLL_HINTS = ("fast", "integer", "none", "both")
FEATURE_CASES = ("canonical", "lower")
STATUS_CODES = {
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass
class Rule:
    """Fire `action` on the next `count` requests whose method and path match."""

    action: str
    path: str = ""  # regular expression searched in the path, case-insensitive
    method: str = ""  # empty = any
    status: int = 503
    count: int = 1

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return re.search(self.path, path, re.IGNORECASE) is not None


@dataclass
class Decision:
    status: int | None = None  # answer with this error status before touching state
    drop: bool = False
    after_apply: bool = False


@dataclass
class Faults:
    fault_rate: float = 0.0
    fault_status: int = 503
    drop_rate: float = 0.0
    drop_phase: str = "random"
    latency: float = 0.0
    seed: int = 0
    rules: list[Rule] = field(default_factory=list)
    poll_hints: str = "fast"
    feature_state_case: str = "canonical"
    provider_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._validate()

    def _validate(self) -> None:
        for name in ("fault_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.fault_status not in STATUS_CODES:
            raise ValueError(f"fault_status must be one of {sorted(STATUS_CODES)}")
        if self.drop_phase not in DROP_PHASES:
            raise ValueError(f"drop_phase must be one of {DROP_PHASES}")
        if self.latency < 0:
            raise ValueError("latency must be >= 0")
        if self.poll_hints not in POLL_HINTS:
            raise ValueError(f"poll_hints must be one of {POLL_HINTS}")
        if self.feature_state_case not in FEATURE_CASES:
            raise ValueError(f"feature_state_case must be one of {FEATURE_CASES}")
        if self.provider_seconds < 0:
            raise ValueError("provider_seconds must be >= 0")
        for rule in self.rules:
            if rule.action not in ACTIONS:
                raise ValueError(f"rule action must be one of {ACTIONS}, got {rule.action!r}")
            if rule.action == "status" and rule.status not in STATUS_CODES:
                raise ValueError(f"rule status must be one of {sorted(STATUS_CODES)}")

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a JSON object from POST /_sandbox/faults; raises ValueError on bad input."""
        allowed = {
            "fault_rate",
            "fault_status",
            "drop_rate",
            "drop_phase",
            "latency",
            "seed",
            "rules",
            "poll_hints",
            "feature_state_case",
            "provider_seconds",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        old = {name: getattr(self, name) for name in allowed}
        try:
            for name, value in changes.items():
                if name == "rules":
                    self.rules = [Rule(**r) for r in value]
                elif name == "seed":
                    self.seed = int(value)
                    self._rng = random.Random(self.seed)
                else:
                    setattr(self, name, type(old[name])(value))
            self._validate()
        except (TypeError, ValueError) as exc:
            for name, value in old.items():
                setattr(self, name, value)
            raise ValueError(str(exc)) from None

    def decide(self, method: str, path: str) -> Decision:
        draws = (self._rng.random(), self._rng.random(), self._rng.random())
        for rule in self.rules:
            if rule.count > 0 and rule.matches(method, path):
                rule.count -= 1
                self.rules = [r for r in self.rules if r.count > 0]
                if rule.action == "status":
                    return Decision(status=rule.status)
                return Decision(drop=True, after_apply=rule.action == "drop-after")
        if draws[0] < self.fault_rate:
            return Decision(status=self.fault_status)
        if draws[1] < self.drop_rate:
            if self.drop_phase == "random":
                after = draws[2] < 0.5
            else:
                after = self.drop_phase == "after"
            return Decision(drop=True, after_apply=after)
        return Decision()

    def describe(self) -> dict[str, Any]:
        return {
            "fault_rate": self.fault_rate,
            "fault_status": self.fault_status,
            "drop_rate": self.drop_rate,
            "drop_phase": self.drop_phase,
            "latency": self.latency,
            "seed": self.seed,
            "rules": [vars(r) for r in self.rules],
            "poll_hints": self.poll_hints,
            "feature_state_case": self.feature_state_case,
            "provider_seconds": self.provider_seconds,
        }
