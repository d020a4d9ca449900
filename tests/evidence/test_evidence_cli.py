"""`fipswizard evidence` and `status` as commands against the sandbox in a subprocess, and the
VM model stripped of secrets before anything is written."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipswizard.evidence.collect import strip_model
from fipswizard.sandbox import demo_estate
from tests.cli.sandbox_proc import SandboxProc, cli_env, fipswizard, write_recipe


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProc]:
    proc = SandboxProc(tmp_path)
    yield proc
    proc.stop()


def _targets(*names: str) -> list[tuple[str, str, str]]:
    vms = demo_estate().vms
    return [(vms[n].subscription, vms[n].resource_group, n) for n in names]


def test_evidence_and_status_commands(sandbox: SandboxProc, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "r.toml", _targets("ubuntu2204-web", "flatcar-edge"))
    env = cli_env(sandbox.url)
    sandbox.reset_log()
    done = fipswizard(["evidence", str(recipe), "-o", str(tmp_path / "out")], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("report.html")
    assert "flatcar-edge: none (FIPS mode only)" in done.stderr  # FIPS mode not on yet
    sums = subprocess.run(
        [shutil.which("sha256sum") or "sha256sum", "-c", "SHA256SUMS"],
        cwd=tmp_path / "out",
        capture_output=True,
        text=True,
    )
    assert sums.returncode == 0, sums.stdout
    assert all(w["path"].endswith("/runCommand") for w in sandbox.writes())
    assert len(sandbox.writes()) == 2  # the probe, once per VM
    sandbox.reset_log()
    st = fipswizard(["status", str(recipe), "--format", "json"], env, tmp_path)
    assert st.returncode == 1, st.stderr  # the flag is not set yet: not compliant
    verdicts = {r["vm"]: r["verdict"] for r in json.loads(st.stdout)["vms"]}
    assert verdicts == {"ubuntu2204-web": "needs flag", "flatcar-edge": "needs flag"}
    assert sandbox.writes() == []


def test_vm_model_loses_secrets_and_custom_data() -> None:
    body = {
        "properties": {
            "osProfile": {
                "adminUsername": "azureuser",
                "adminPassword": "Pa55word!",
                "customData": "I2Nsb3VkLWNvbmZpZw==",
                "secrets": [{"sourceVault": {"id": "/kv"}}],
            },
            "userData": "c2VjcmV0",
        },
        "resources": [{"properties": {"settings": {"a": 1}, "protectedSettings": {"k": "v"}}}],
    }
    text = json.dumps(strip_model(body))
    for value in ("Pa55word!", "I2Nsb3VkLWNvbmZpZw==", "/kv", "c2VjcmV0", '"k"', '"a"'):
        assert value not in text
    assert "azureuser" in text
    assert body["properties"]["osProfile"]["adminPassword"] == "Pa55word!"  # input untouched


def test_evidence_refuses_a_folder_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fipswizard.headless.cli import main

    recipe = write_recipe(tmp_path / "r.toml", _targets("ubuntu2204-web"))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "report.md").write_text("the operator's own notes\n")
    # refused before any request is sent (no sandbox, no credentials needed)
    assert main(["evidence", str(recipe), "-o", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "taken: the folder is not empty" in err and "Traceback" not in err
    assert (taken / "report.md").read_text() == "the operator's own notes\n"
