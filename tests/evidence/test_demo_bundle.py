"""The evidence bundle and `status` on the demo estate after the demo run (one run of the demo
for the whole module: the sandbox serves on loopback inside one event loop)."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import shutil
import subprocess
from contextlib import redirect_stdout
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from fipswizard.azure.credentials import TOKEN_ENV
from fipswizard.demo_env import DEMO_TOKEN
from fipswizard.engine.prompter import HeadlessPrompter

GOLDEN = Path(__file__).parent.parent / "golden"
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        raise AssertionError(f"wrote {path}: review it, commit it, run again")
    assert text == path.read_text()


def normalise(text: str, ids: list[str]) -> str:
    """Run, correlation and ARM request ids are random per run; journal step times are wall
    clock."""
    for n, value in enumerate(sorted(set(ids), key=len, reverse=True)):
        text = text.replace(value, f"<id{n}>")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(?= \S+: )", "<time>", text)
    text = re.sub(r'("request_id": )"[0-9a-f-]{36}"', r'\1"<request-id>"', text)
    text = re.sub(r"runCommands/fipswizard-[0-9a-f]{12}", "runCommands/fipswizard-<random>", text)
    return re.sub(r'("at": )"[^"]+"', r'\1"<time>"', text)


async def _requests(endpoint: str, since: int) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        got = (await client.get(endpoint + "/_sandbox/requests")).json()
    entries = got["requests"] if isinstance(got, dict) else got
    return [e for e in entries if e["seq"] > since]


async def _status(env: Any, guest: bool, fmt: str) -> tuple[int, str, list[dict[str, Any]]]:
    from fipswizard.headless.status_cmd import status

    before = await _requests(env.endpoint, 0)
    since = max((e["seq"] for e in before), default=0)
    args = argparse.Namespace(
        recipe=str(env.recipe_path), guest=guest, format=fmt, arm_endpoint=env.endpoint,
        ca_bundle=None, verbose=False,
    )  # fmt: skip
    out = io.StringIO()
    # A command line against the demo takes its token as any real run does (the TUI's replay
    # hint prints it so); the demo itself hands its token to its own runs, not to the process.
    with redirect_stdout(out), mock.patch.dict(os.environ, {TOKEN_ENV: DEMO_TOKEN}):
        rc = await status(args)
    return rc, out.getvalue(), await _requests(env.endpoint, since)


async def _scenario(work: Path) -> dict[str, Any]:
    from fipswizard.demo_env import demo_environment
    from fipswizard.evidence.make import make_evidence
    from fipswizard.session import run_apply

    result: dict[str, Any] = {}
    async with demo_environment(work) as env:
        opts = replace(env.opts, settings=replace(env.opts.settings, agent_poll=0.1))
        await run_apply(env.recipe, opts, HeadlessPrompter(True), env.journal_path, lambda e: None)
        journal = [json.loads(line) for line in env.journal_path.read_text().splitlines()]
        result["ids"] = [r["run"] for r in journal] + [
            r["correlation_id"] for r in journal if "correlation_id" in r
        ]
        before = max(e["seq"] for e in await _requests(env.endpoint, 0))
        doc, assessed = await make_evidence(
            str(env.journal_path), work / "bundle", env.opts, now=NOW, today=TODAY
        )
        result["evidence_requests"] = await _requests(env.endpoint, before)
        result["doc"], result["assessed"] = doc, assessed
        for guest in (False, True):
            for fmt in ("text", "json"):
                result[("status", guest, fmt)] = await _status(env, guest, fmt)
        result["secrets"] = ["sandbox-demo-access-token", "DEMO-TUXCARE-LICENCE-KEY-0000"]
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("evidence-demo")
    result = asyncio.run(_scenario(work))
    result["bundle"] = work / "bundle"
    return result


def test_sha256sums_verifies_with_coreutils(demo: dict[str, Any]) -> None:
    tool = shutil.which("sha256sum")
    assert tool, "coreutils sha256sum is needed"
    done = subprocess.run(
        [tool, "-c", "SHA256SUMS"], cwd=demo["bundle"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = {
        line.split("  ", 1)[1] for line in (demo["bundle"] / "SHA256SUMS").read_text().splitlines()
    }
    on_disk = {str(p.relative_to(demo["bundle"])) for p in demo["bundle"].rglob("*") if p.is_file()}
    assert on_disk - listed == {"SHA256SUMS"}
    assert {"report.md", "report.html", "evidence.json", "manifest.json",
            "oscal/assessment-results.json", "vms/flatcar-edge/probe.txt"} <= listed  # fmt: skip


def test_bundle_has_no_secret_anywhere(demo: dict[str, Any]) -> None:
    for path in demo["bundle"].rglob("*"):
        if path.is_file():
            text = path.read_text()
            for secret in demo["secrets"]:
                assert secret not in text, path


def test_claim_levels_in_the_demo(demo: dict[str, Any]) -> None:
    by_vm = {a.ev.name: a for a in demo["assessed"]}
    web = {c.kind: c for c in by_vm["ubuntu2204-web"].claims}
    assert web["openssl"].level == "validated-interim"
    assert web["openssl"].row is not None and web["openssl"].row.certificate == 4794
    assert web["openssl"].days_to_sunset == (date(2029, 9, 10) - TODAY).days
    assert web["kernel"].level == "update-stream"  # 5.15.0-1077-azure-fips is not 5.15.0-73-fips
    assert by_vm["flatcar-edge"].level == "none"
    assert by_vm["flatcar-edge"].label == "none (FIPS mode only)"
    rhel = {c.kind: c for c in by_vm["rhel95-db"].claims}
    assert rhel["openssl"].level == "validated-interim" and rhel["openssl"].row.certificate == 4857  # type: ignore[union-attr]


def test_never_fips_compliant_and_flatcar_never_validated(demo: dict[str, Any]) -> None:
    for path in demo["bundle"].rglob("*"):
        if path.is_file():
            assert "fips compliant" not in path.read_text().lower(), path
    flatcar = (demo["bundle"] / "vms/flatcar-edge/summary.json").read_text()
    assert "validated" not in flatcar.lower()
    assert "FIPS mode only" in flatcar


def test_evidence_is_read_only_and_one_run_command_per_vm(demo: dict[str, Any]) -> None:
    writes = [e for e in demo["evidence_requests"] if e["write"]]
    assert all(e["method"] == "POST" and e["path"].endswith("/runCommand") for e in writes), writes
    per_vm = {e["path"] for e in writes}
    assert len(per_vm) == len(writes)  # at most one Run Command per VM: the probe


def test_oscal_assessment_results_validate_with_trestle(demo: dict[str, Any]) -> None:
    from trestle.oscal.assessment_plan import AssessmentPlan
    from trestle.oscal.assessment_results import AssessmentResults

    ar = json.loads((demo["bundle"] / "oscal/assessment-results.json").read_text())
    AssessmentResults.parse_obj(ar["assessment-results"])
    ap = json.loads((demo["bundle"] / "oscal/assessment-plan.json").read_text())
    AssessmentPlan.parse_obj(ap["assessment-plan"])
    result = ar["assessment-results"]["results"][0]
    assert len(result["findings"]) == sum(len(vm["checks"]) for vm in demo["doc"]["vms"])


def test_golden_report_and_evidence_json(demo: dict[str, Any]) -> None:
    golden("evidence/report.md", normalise((demo["bundle"] / "report.md").read_text(), demo["ids"]))
    golden(
        "evidence/evidence.json",
        normalise((demo["bundle"] / "evidence.json").read_text(), demo["ids"]),
    )


@pytest.mark.parametrize("guest", [False, True])
def test_status_golden_and_read_only(demo: dict[str, Any], guest: bool) -> None:
    suffix = "_guest" if guest else ""
    for fmt in ("text", "json"):
        rc, out, requests = demo[("status", guest, fmt)]
        golden(f"status/status{suffix}.{'txt' if fmt == 'text' else 'json'}", out)
        assert rc == 1  # the demo estate has a region without the change and a Not Ready agent
        writes = [e for e in requests if e["write"]]
        if not guest:
            assert writes == []
        else:
            assert all(e["path"].endswith("/runCommand") for e in writes), writes
            assert len({e["path"] for e in writes}) == len(writes)


def test_html_is_self_contained_and_ids_are_stable_uuid5(demo: dict[str, Any]) -> None:
    import uuid

    from fipswizard.evidence.oscal import uid

    page = (demo["bundle"] / "report.html").read_text()
    assert "<style>" in page
    for external in ("<script", "<link", 'src="', "http://", "@import"):
        assert external not in page, external
    ar = json.loads((demo["bundle"] / "oscal/assessment-results.json").read_text())
    findings = ar["assessment-results"]["results"][0]["findings"]
    vm = demo["doc"]["vms"][0]
    first = vm["checks"][0]["id"]
    want = uid(vm["id"], first)
    assert any(f["uuid"] == want for f in findings)
    assert all(uuid.UUID(f["uuid"]).version == 5 for f in findings)
    manifest = json.loads((demo["bundle"] / "manifest.json").read_text())
    assert list(manifest) == sorted(manifest)  # sorted keys


def test_every_write_of_the_run_is_named_by_its_arm_request_id(demo: dict[str, Any]) -> None:
    """Issue 10: the bundle names the ARM request ids of the run's writes, from the journal
    (journalled with each step's end as the ARM client got them)."""
    doc = json.loads((demo["bundle"] / "evidence.json").read_text())
    writes = [
        w for vm in doc["vms"] for step in vm["run_steps"] for w in step.get("arm_requests", [])
    ]
    assert writes, "no write named"
    assert all(re.fullmatch(r"[0-9a-f-]{36}", w["request_id"]) for w in writes), writes
    flags = [w for w in writes if w["method"] == "PUT" and w["path"].endswith("/ubuntu2204-web")]
    assert flags and flags[0]["status"] in ("200", "201"), writes
