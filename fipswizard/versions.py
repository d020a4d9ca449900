"""Versions: the one comparison and the one minimum agent version.

Azure's FIPS 140-3 extension support needs a goal-state WALinuxAgent of at least 2.14.0.1
(learn.microsoft.com "Enable FIPS 140-3 on Linux VMs": the agent that reads the FIPS 140-3
certificate package). The guest recipes read the same number from FW_MIN_AGENT, which the
engine sets from MIN_AGENT (tests/test_versions.py checks the recipe defaults agree).
"""

from __future__ import annotations

MIN_AGENT = "2.14.0.1"
# The first Compute api-version whose schema has enableFips1403Encryption; Microsoft's doc
# uses 2024-11-01 (accepted by the service, not in its schema). Air-gapped clouds may lag.
COMPUTE_API = "2025-04-01"


def older(version: str, minimum: str = MIN_AGENT) -> bool:
    """True only when both parse and `version` < `minimum`: an unreadable version is not
    called old (the caller says "unknown" rather than proposing a fix for it)."""
    from packaging.version import InvalidVersion, Version  # lazily: start-up imports this module

    try:
        return Version(version) < Version(minimum)
    except InvalidVersion:
        return False
