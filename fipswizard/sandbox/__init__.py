"""Simulated Azure for fipswizard: ARM URL shapes, long-running operations, throttling,
faults and simulated guests. `fipswizard demo` and most tests run against it.

    sandbox = SandboxAzure(demo_estate(), clock=FakeClock())
    client = httpx.AsyncClient(transport=sandbox.transport(), base_url=FAKE_ARM)
    url, stop = start_in_thread(sandbox)          # or: python -m fipswizard.sandbox serve
"""

from fipswizard.sandbox.clock import FakeClock
from fipswizard.sandbox.core import SandboxAzure
from fipswizard.sandbox.estate import Estate, bench_estate, demo_estate
from fipswizard.sandbox.faults import Faults, Rule
from fipswizard.sandbox.server import SandboxServer, start_in_thread
from fipswizard.sandbox.throttle import BucketSpec
from fipswizard.sandbox.wire import ConnectionDropped

FAKE_ARM = "https://management.azure.com"

__all__ = [
    "FAKE_ARM",
    "BucketSpec",
    "ConnectionDropped",
    "Estate",
    "FakeClock",
    "Faults",
    "Rule",
    "SandboxAzure",
    "SandboxServer",
    "bench_estate",
    "demo_estate",
    "start_in_thread",
]
