"""Many VMs under throttling and faults; secrets never reach any output; import boundaries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.events import Event
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe
from fipswizard.sandbox import BucketSpec, Faults, SandboxAzure, bench_estate, demo_estate
from fipswizard.session import Options, run_apply
from tests.inproc import FAST, Recorder

ROOT = Path(__file__).parent.parent


def recipe_for(sandbox: SandboxAzure, names: list[str] | None = None) -> Recipe:
    vms = [v for v in sandbox.estate.vms.values() if names is None or v.name in names]
    targets = tuple(
        RecipeTarget(Target(v.subscription, v.resource_group, v.name), "none") for v in vms
    )
    return Recipe(targets=targets, concurrency=50)


async def test_fifty_vms_with_429_and_503_all_compliant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "fleet-token-000000")
    sandbox = SandboxAzure(
        bench_estate(50),
        op_seconds=0.05,
        # Slower than ARM's documented 10/s, which the client paces itself to: 429s still come.
        writes=BucketSpec(burst=10, rate=8),
        faults=Faults(fault_rate=0.15, fault_status=503, seed=7),
    )
    opts = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    recipe = recipe_for(sandbox)
    summary = await run_apply(
        recipe, opts, HeadlessPrompter(True), tmp_path / "j.jsonl", lambda e: None
    )
    statuses = [e["status"] for e in sandbox.log.entries()]
    assert 429 in statuses and 503 in statuses  # the run really met both
    assert summary.ok, summary.to_text()
    assert all(vm.fips_flag for vm in sandbox.estate.vms.values())


async def test_token_and_vmaccess_password_never_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.secret-token-payload.sig"
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", token)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from fipswizard.logs import setup_logging

    setup_logging(verbose=True)
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    recorder = Recorder(sandbox.transport())
    opts = Options(arm_endpoint="https://management.azure.com", settings=FAST, transport=recorder)
    recipe = recipe_for(sandbox, ["ubuntu2204-fipsimage", "ubuntu2204-web"])
    (tmp_path / "r.toml").write_text(dump_recipe(recipe))
    events: list[Event] = []
    summary = await run_apply(
        recipe, opts, HeadlessPrompter(True), tmp_path / "j.jsonl", events.append
    )
    passwords = [
        json.loads(b)["properties"]["protectedSettings"]["password"]
        for b in recorder.bodies
        if '"password"' in b
    ]
    assert passwords, "the VMAccess validation must have sent a password"
    from fipswizard.headless.commands import print_progress

    for e in events:
        print_progress(e)
    print(summary.to_text(), summary.to_json())
    out = capsys.readouterr()
    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert any("step-begin" in w for w in written) and any("fipswizard" in w for w in written)
    haystacks = [out.out, out.err, repr(events), *written]
    for needle in (token, *passwords):
        assert not any(needle in h for h in haystacks)


def test_headless_plan_and_apply_never_import_textual_or_identity(tmp_path: Path) -> None:
    code = """
import os, sys
from fipswizard.sandbox import SandboxAzure, demo_estate, start_in_thread
url, stop = start_in_thread(SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1))
os.environ.update(FIPSWIZARD_ACCESS_TOKEN="t0ken-for-import-test", FIPSWIZARD_ARM_ENDPOINT=url,
                  FIPSWIZARD_POLL_INTERVAL="0.05")
from fipswizard.headless.cli import main
r = sys.argv[1]
codes = [main(["plan", r]), main(["plan", r, "--offline"]), main(["apply", r, "--yes"])]
stop()
bad = [m for m in ("textual", "azure.identity", "screens") if m in sys.modules]
print("RESULT", codes, bad)
"""
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'version = 1\nguest = "none"\nvalidate = false\n[[target]]\n'
        'subscription = "66666666-7777-8888-9999-000000000000"\n'
        'resource_group = "fips-demo-gov"\nvm = "ubuntu2204-batch"\n'
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(recipe)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "RESULT [0, 0, 0] []" in out.stdout, out.stdout + out.stderr
