"""Run Commands per VM per recipe, first apply and re-run, against the sandbox (issue 9).

The guest work is batched (fipswizard/guest/batch.py): a first apply with a reboot costs three
Run Commands per VM (the probe with every check read ahead, the changes, the after-reboot
checks), a re-run that changes nothing one. More is a regression and fails here; the numbers
are measured with benchmarks/guest_cost.py, which prints the same table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

# recipe: (first apply, re-run) Run Commands for the one VM.
EXPECTED = {
    "ubuntu": (3, 1),
    "rhel9": (3, 1),
    "alma92-tuxcare": (3, 1),
    "flatcar": (3, 1),
}


def _benchmark() -> ModuleType:
    """benchmarks/ is not a package: load the script itself, so the test and the printed
    table count with the same code."""
    name = "_guest_cost_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "guest_cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("recipe", sorted(EXPECTED))
async def test_run_commands_per_vm(
    recipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "guest-cost-token")
    monkeypatch.setenv("FIPSWIZARD_TUXCARE_KEY", "guest-cost-tuxcare-key")
    monkeypatch.setenv("FIPSWIZARD_PRO_TOKEN", "guest-cost-pro-token")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    costs = await _benchmark().measure(recipe, tmp_path)
    first, rerun = EXPECTED[recipe]
    assert costs["first apply"].run_commands == first, costs
    assert costs["re-run"].run_commands == rerun, costs
    # The re-run changes nothing: every write it makes is a Run Command (its checks).
    assert costs["re-run"].writes == costs["re-run"].run_commands, costs
    assert costs["re-run"].boots == 0 and costs["first apply"].boots >= 1, costs


def test_counting_rules() -> None:
    """Only a started Run Command counts (not its polls, result reads or a refused POST)."""
    bench = _benchmark()
    vm = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v"
    log = [
        {"method": "POST", "path": f"{vm}/runCommand", "status": 202, "write": True},
        {"method": "PUT", "path": f"{vm}/runCommands/fw-1", "status": 201, "write": True},
        {"method": "GET", "path": f"{vm}/runCommands/fw-1", "status": 200, "write": False},
        {"method": "POST", "path": f"{vm}/runCommand", "status": 429, "write": True},
        {"method": "POST", "path": f"{vm}/restart", "status": 202, "write": True},
        {"method": "POST", "path": f"{vm}/deallocate", "status": 202, "write": True},
        {"method": "POST", "path": f"{vm}/start", "status": 202, "write": True},
    ]
    c = bench.cost(log)
    assert (c.run_commands, c.requests, c.writes, c.boots) == (2, 7, 6, 2)
    assert c.projected == 2 * 20 + 2 * 90
