"""Issue 2's promises, driven through the real CLI against a sandbox process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.sandbox_proc import (
    DEMO_SUB,
    GOV_SUB,
    SandboxProc,
    cli_env,
    fipswizard,
    write_recipe,
)

GOLDEN = Path(__file__).parent.parent / "golden"
PLATFORM_VMS = [
    (DEMO_SUB, "fips-demo", "ubuntu2204-web"),
    (DEMO_SUB, "fips-demo", "rhel94-app"),
    (GOV_SUB, "fips-demo-gov", "ubuntu2204-batch"),
]


def assert_golden(name: str, output: str, sandbox: SandboxProc, tmp_path: Path) -> None:
    """Compare with tests/golden/NAME (port and temp dir masked); a missing file is written."""
    text = output.replace(sandbox.url, "http://SANDBOX").replace(str(tmp_path), "TMP")
    golden = GOLDEN / name
    if not golden.exists():
        golden.write_text(text)
        raise AssertionError(f"wrote {golden}: review it, commit it, run again")
    assert text == golden.read_text()


def test_plan_matches_golden_and_sends_no_write(sandbox: SandboxProc, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "demo.toml", PLATFORM_VMS)
    out = fipswizard(["plan", str(recipe)], cli_env(sandbox.url), tmp_path)
    assert out.returncode == 0, out.stderr
    assert_golden("plan_platform.txt", out.stdout, sandbox, tmp_path)
    assert sandbox.writes() == []
    assert {r["method"] for r in sandbox.requests()} == {"GET"}
    js = fipswizard(["plan", str(recipe), "--format", "json"], cli_env(sandbox.url), tmp_path)
    doc = json.loads(js.stdout)
    assert doc["dry_run"] is True and len(doc["units"]) == 2 + 3
    assert sandbox.writes() == []


def test_apply_twice_then_rollback(sandbox: SandboxProc, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "r.toml", PLATFORM_VMS)
    env = cli_env(sandbox.url)
    first = fipswizard(["apply", str(recipe), "--yes"], env, tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "3 of 3 VMs compliant" in first.stdout
    assert sandbox.vm("ubuntu2204-web")["fips_flag"] is True
    sandbox.reset_log()
    second = fipswizard(["apply", str(recipe), "--yes"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert sandbox.writes() == [], sandbox.writes()

    journal = tmp_path / "r.journal.jsonl"
    back = fipswizard(["rollback", str(journal), "--yes", "--unregister-feature"], env, tmp_path)
    assert back.returncode == 0, back.stderr + back.stdout
    assert sandbox.vm("ubuntu2204-web")["fips_flag"] is False
    assert sandbox.vm("ubuntu2204-batch")["fips_flag"] is False
    assert sandbox.vm("rhel94-app")["fips_flag"] is True  # it was on before the run
    # ...so the opt-in stays: unregistering it under a VM with the flag on is refused.
    feature = sandbox.get("/_sandbox/state")["subscriptions"][DEMO_SUB]["features"]
    assert feature["Microsoft.Compute/OptInToFips1403Compliance"] == "Registered"
    said = back.stderr + back.stdout
    assert "left registered" in said and "rhel94-app" in said


def test_rollback_needs_confirmation_headless(sandbox: SandboxProc, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "r.toml", PLATFORM_VMS[:1])
    env = cli_env(sandbox.url)
    assert fipswizard(["apply", str(recipe), "--yes"], env, tmp_path).returncode == 0
    back = fipswizard(["rollback", str(tmp_path / "r.journal.jsonl")], env, tmp_path)
    assert back.returncode == 4 and "--yes" in back.stderr
    assert sandbox.vm("ubuntu2204-web")["fips_flag"] is True


def test_unsupported_region_fails_only_that_vm(sandbox: SandboxProc, tmp_path: Path) -> None:
    vms = [(DEMO_SUB, "fips-demo", "ubuntu2204-mexico"), *PLATFORM_VMS[:2]]
    recipe = write_recipe(tmp_path / "r.toml", vms)
    out = fipswizard(
        ["apply", str(recipe), "--yes", "--format", "json"], cli_env(sandbox.url), tmp_path
    )
    assert out.returncode == 1
    rows = {
        r["target"].rsplit("/", 1)[1]: r
        for r in json.loads(out.stdout)["targets"]
        if "/" in r["target"]
    }
    assert rows["ubuntu2204-mexico"]["outcome"] == "region not supported"
    assert "mexicocentral" in rows["ubuntu2204-mexico"]["detail"]
    assert rows["ubuntu2204-web"]["outcome"] == rows["rhel94-app"]["outcome"] == "compliant"


def test_sigkill_mid_apply_resumes(tmp_path: Path) -> None:
    sandbox = SandboxProc(tmp_path, "--op-seconds", "3")
    try:
        vms = [
            (DEMO_SUB, "fips-demo", n)
            for n in ("ubuntu2204-web", "ubuntu2404-api", "rhel95-db", "alma92-ledger")
        ]
        recipe = write_recipe(tmp_path / "r.toml", vms, extra="concurrency = 2")
        env = cli_env(sandbox.url)
        journal = tmp_path / "r.journal.jsonl"
        proc = subprocess.Popen(
            [sys.executable, "-m", "fipswizard", "apply", str(recipe), "--yes"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not (journal.exists() and journal.read_text().count('"vm-flag"') >= 2):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = {vm: sandbox.vm(vm)["fips_flag"] for _, _, vm in vms}
        assert not all(before.values())  # killed in the middle, not at the end
        again = fipswizard(["apply", str(recipe), "--yes"], env, tmp_path)
        assert again.returncode == 0, again.stderr + again.stdout
        assert all(sandbox.vm(vm)["fips_flag"] for _, _, vm in vms)
        puts = [
            r["path"].rsplit("/", 1)[1]
            for r in sandbox.requests()
            if r["method"] == "PUT" and re.search(r"/virtualMachines/[^/]+$", r["path"])
        ]
        assert sorted(puts) == sorted(set(puts)), f"a VM write was repeated: {puts}"
        assert "resumed" in journal.read_text()
    finally:
        sandbox.stop()


def test_demo_recipe_plan_golden(sandbox: SandboxProc, tmp_path: Path) -> None:
    """The whole demo recipe (guest auto): every request and every guest script, no write."""
    names = sorted(sandbox.get("/_sandbox/state")["vms"].items())
    vms = [(vm["subscription"], vm["resource_group"], name) for name, vm in names]
    recipe = write_recipe(tmp_path / "demo.toml", vms, guest="auto")
    out = fipswizard(["plan", str(recipe)], cli_env(sandbox.url), tmp_path)
    assert out.returncode == 0, out.stderr
    assert sandbox.writes() == []
    assert_golden("plan_demo.txt", out.stdout, sandbox, tmp_path)
