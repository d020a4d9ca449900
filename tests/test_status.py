"""`status` verdicts per VM, the exit code, and bad input (exit 2, no traceback)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.evidence.collect import NOT_OFFERED, Fleet, SubscriptionFacts, VmEvidence
from fipswizard.guest.detect import GuestFacts
from fipswizard.headless.cli import main
from fipswizard.status import status_exit, status_rows, status_text, verdict

GOOD = {"flag": True, "agent_ready": True, "agent_status": "Ready", "location": "uksouth"}
FIPS_ON = GuestFacts(os_id="ubuntu", os_version="22.04", fips_enabled="1",
                     agent_goal_state="2.15.0.1")  # fmt: skip


def vm(facts: dict[str, object] | None = None, **kw: object) -> VmEvidence:
    ev = VmEvidence(Target("s", "rg", "vm1"), "2025-04-01", facts=dict(facts or GOOD))
    ev.region = "known-supported"
    for key, value in kw.items():
        setattr(ev, key, value)
    return ev


def test_verdicts() -> None:
    assert verdict(vm(guest=FIPS_ON), "Registered") == "compliant"
    assert verdict(vm(guest=FIPS_ON), NOT_OFFERED) == "compliant"  # nothing to opt in to
    assert verdict(vm(guest=FIPS_ON), "NotRegistered") == "needs flag"
    assert verdict(vm({**GOOD, "flag": False}, guest=FIPS_ON), "Registered") == "needs flag"
    off = replace(FIPS_ON, fips_enabled="0")
    assert verdict(vm(guest=off), "Registered") == "needs guest"
    old_agent = replace(FIPS_ON, agent_goal_state="2.9.1.1")
    assert verdict(vm(guest=old_agent), "Registered") == "needs guest"
    assert verdict(vm(region="known-unsupported"), "Registered").startswith("blocked: region")
    assert verdict(vm(error="ARM 404 ResourceNotFound"), "Registered") == (
        "blocked: ARM 404 ResourceNotFound"
    )
    notready = vm({**GOOD, "agent_ready": False, "agent_status": "Not Ready"})
    assert verdict(notready, "Registered") == "blocked: VM agent Not Ready"
    assert verdict(vm(guest_error="probe failed: timeout"), "Registered").startswith("blocked")


def test_exit_code_is_zero_only_when_every_vm_is_compliant() -> None:
    subs = {"s": SubscriptionFacts("s", "Registered", "Registered", "a", "b")}
    fleet = Fleet("AzureCloud", subs, [vm(guest=FIPS_ON)], True)
    assert status_exit(status_rows(fleet)) == 0
    fleet.vms.append(vm(guest=replace(FIPS_ON, fips_enabled="0")))
    rows = status_rows(fleet)
    assert status_exit(rows) == 1
    assert status_text(rows).endswith("1 of 2 VMs compliant\n")


def test_bad_recipe_is_exit_2_with_the_file_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[target]\n")
    assert main(["status", str(bad)]) == 2
    assert main(["evidence", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_scale_set_vm_is_blocked_with_its_reason_and_source() -> None:
    pool = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/"
    pool += "virtualMachineScaleSets/pool"
    model = {"properties": {"virtualMachineScaleSet": {"id": pool}}}
    text = verdict(vm(guest=FIPS_ON, model=model), "Registered")  # otherwise compliant
    assert text.startswith("blocked: scale-set VM, not supported: a VM of scale set pool")
    assert "agent-linux-fips" in text and "propagate" in text
    assert verdict(vm(guest=FIPS_ON, model={"properties": {}}), "Registered") == "compliant"
    subs = {"s": SubscriptionFacts("s", "Registered", "Registered", "a", "b")}
    rows = status_rows(Fleet("AzureCloud", subs, [vm(guest=FIPS_ON, model=model)], True))
    assert status_exit(rows) == 1 and rows[0]["verdict"] == text
