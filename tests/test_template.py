"""`fipswizard template`: new Linux VMs are born FIPS, everything else stays byte for byte."""

from __future__ import annotations

import base64
import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fipswizard.errors import BadInput
from fipswizard.template import (
    FIPS_API,
    TemplateError,
    bicep_snippet,
    check_shape,
    patch_template,
    read_json,
)

FIXTURES = Path(__file__).parent / "fixtures" / "template"
GOLDEN = Path(__file__).parent / "golden" / "template"
FLEET = FIXTURES / "fleet.json"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        raise AssertionError(f"wrote {path}: review it, commit it, run again")
    assert text == path.read_text()


def _vms(text: str) -> dict[str, dict[str, object]]:
    root = read_json(text, "t")
    return {str(n.value["name"]): n.value for _, n in check_shape(root, "t", text)}


def _others(text: str) -> list[object]:
    doc = read_json(text, "t").value
    kept = [r for r in doc["resources"] if r["type"] != "Microsoft.Compute/virtualMachines"]
    return [kept, {k: v for k, v in doc.items() if k != "resources"}]


def test_cli_output_matches_golden() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fipswizard", "template", str(FLEET)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    _golden("fleet.patched.json", out.stdout)
    _golden("fleet.report.txt", out.stderr)


def test_only_linux_vms_change_flag_boolean_api_typed() -> None:
    before = FLEET.read_text()
    after = patch_template(before, "fleet.json").text
    vms = _vms(after)
    for name in ("web-ubuntu-pro", "app-rhel"):
        caps = vms[name]["properties"]["additionalCapabilities"]  # type: ignore[index]
        assert caps["enableFips1403Encryption"] is True  # a boolean, not the old doc's "true"
        assert str(vms[name]["apiVersion"]) >= FIPS_API
    assert vms["jump-windows"] == _vms(before)["jump-windows"]
    assert _others(after) == _others(before)  # unrelated resources, parameters, outputs
    # the old sample's sibling capability is kept
    assert vms["app-rhel"]["properties"]["additionalCapabilities"]["ultraSSDEnabled"] is False  # type: ignore[index]


def test_output_passes_json_schema_of_a_born_fips_linux_vm() -> None:
    import jsonschema  # in the test extra: this check must run, never be skipped

    schema = json.loads((FIXTURES / "linux_vm.schema.json").read_text())
    before = _vms(FLEET.read_text())
    with pytest.raises(jsonschema.ValidationError):  # the schema does reject the input
        jsonschema.validate(before["app-rhel"], schema)
    after = _vms(patch_template(FLEET.read_text(), "fleet.json").text)
    for name in ("web-ubuntu-pro", "app-rhel"):
        jsonschema.validate(after[name], schema)


def test_round_trip_keeps_every_other_byte() -> None:
    before = FLEET.read_text()
    after = patch_template(before, "fleet.json").text
    # only lines inside the two Linux VM resources differ; comments and "1.50" survive
    changed = [
        line[2:].strip()
        for line in difflib.ndiff(before.splitlines(), after.splitlines())
        if line[:2] in ("- ", "+ ")
    ]
    assert sorted(changed) == sorted(
        [
            '"apiVersion": "2024-07-01",',
            '"apiVersion": "2025-04-01",',
            '"additionalCapabilities": {"enableFips1403Encryption": true},',
            '"apiVersion": "2022-03-01",',
            '"apiVersion": "2025-04-01",',
            '"enableFips1403Encryption": "true"',
            '"enableFips1403Encryption": true',
        ]
    )
    assert "// ARM accepts comments" in after and '"ratio": 1.50' in after
    assert len(after.splitlines()) == len(before.splitlines()) + 1  # one added line
    # patching twice changes nothing more
    again = patch_template(after, "fleet.json")
    assert again.text == after
    assert all(line.endswith("already born FIPS") for line in again.changed)
    # a template with no Linux VM is returned byte for byte
    windows_only = '{"resources": [ {"type": "Microsoft.Compute/virtualMachines", "apiVersion":'
    windows_only += '"2023-03-01", "name": "w", "properties": {"osProfile": '
    windows_only += '{"windowsConfiguration": {}}}} ]}\n'
    assert patch_template(windows_only).text == windows_only


def test_symbolic_resources_nested_children_and_empty_objects() -> None:
    text = json.dumps(
        {
            "languageVersion": "2.0",
            "resources": {
                "vm1": {
                    "type": "Microsoft.Compute/virtualMachines",
                    "apiVersion": "2026-04-01",
                    "name": "a",
                    "properties": {"storageProfile": {"osDisk": {"osType": "Linux"}}},
                },
                "site": {
                    "type": "Microsoft.Resources/deployments",
                    "apiVersion": "2022-09-01",
                    "name": "d",
                    "resources": [
                        {
                            "type": "microsoft.compute/VIRTUALMACHINES",
                            "apiVersion": "2025-11-01",
                            "name": "b",
                            "properties": {
                                "osProfile": {"linuxConfiguration": {}},
                                "additionalCapabilities": {},
                            },
                        }
                    ],
                },
            },
        }
    )
    out = patch_template(text)
    vms = _vms(out.text)
    assert vms["a"]["apiVersion"] == "2026-04-01"  # already typed: kept
    for name in ("a", "b"):
        assert vms[name]["properties"]["additionalCapabilities"]["enableFips1403Encryption"] is True  # type: ignore[index]


def test_unknown_os_is_not_guessed() -> None:
    text = (
        '{"resources": [{"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2024-11-01",'
        ' "name": "x", "properties": {"storageProfile": {"imageReference": '
        '{"id": "[parameters(\'galleryImage\')]"}}}}]}'
    )
    out = patch_template(text)
    assert out.text == text
    assert "its OS is not stated" in out.notes[0]


def test_ubuntu_pro_cloud_init_added_only_where_there_is_none() -> None:
    out = patch_template(FLEET.read_text(), "fleet.json", ubuntu_pro=True)
    vm = _vms(out.text)["web-ubuntu-pro"]
    custom = vm["properties"]["osProfile"]["customData"]  # type: ignore[index]
    cloud = base64.b64decode(custom).decode()
    assert cloud.startswith("#cloud-config\n") and "ubuntu_pro:" in cloud
    assert "- fips-updates" in cloud and "token" not in cloud
    assert "customData" not in json.dumps(_vms(out.text)["app-rhel"])  # RHEL: no cloud-init
    assert any("fips=1" in n and "recipe new --vm app-rhel" in n for n in out.notes)
    # an operator's own customData is never rewritten
    mine = FLEET.read_text().replace(
        '"adminUsername": "azureuser",', '"adminUsername": "azureuser", "customData": "e30=",'
    )
    kept = patch_template(mine, "fleet.json", ubuntu_pro=True)
    assert '"customData": "e30="' in kept.text and kept.text.count("customData") == 1
    assert any("merge the ubuntu_pro section" in n for n in kept.notes)


def test_flatcar_points_to_butane() -> None:
    text = (
        '{"resources": [{"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2025-04-01",'
        ' "name": "f", "properties": {"storageProfile": {"imageReference": {"publisher": '
        '"kinvolk", "offer": "flatcar-container-linux-corevm", "sku": "stable-gen2"}}}}]}'
    )
    assert any("fipswizard butane" in n for n in patch_template(text).notes)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("[]", ":1:1:", "an ARM template is a JSON object"),
        ('{"a": 1}', ":1:1:", "key 'resources': missing"),
        ('{\n "resources": [\n  {"type": 3}\n ]\n}', ":3:3:", "resources[0].type"),
        ('{"resources": [], "resources": []}', ":1:19:", "appears twice"),
        ('{"resources": [ {"type": "x",} ]}', ":1:30:", "expected a quoted key"),
        ('{"resources": [] /* open', ":1:18:", "never closed"),
        (
            '{"resources": [{"type": "Microsoft.Compute/virtualMachines", "name": "v",\n'
            ' "apiVersion": "2024-11-01", "properties": {"additionalCapabilities": "on"}}]}',
            ":2:71:",
            "additionalCapabilities': found str",
        ),
    ],
)
def test_bad_templates_name_line_column_and_key(text: str, where: str, what: str) -> None:
    with pytest.raises(TemplateError) as err:
        patch_template(text, "t.json")
    assert f"t.json{where}" in str(err.value) and what in str(err.value)


def test_cli_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text('{"resources": {"vm": 7}}')
    out = subprocess.run(
        [sys.executable, "-m", "fipswizard", "template", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "t.json:1:22: key 'resources.vm': a resource is an object" in out.stderr


def test_api_version_that_does_not_type_the_flag_is_refused() -> None:
    with pytest.raises(BadInput, match="2025-04-01 or later"):
        patch_template(FLEET.read_text(), api_version="2024-11-01")


def test_bicep_snippet_types_the_boolean() -> None:
    text = bicep_snippet()
    assert "'Microsoft.Compute/virtualMachines@2025-04-01'" in text
    assert "enableFips1403Encryption: true" in text and "'true'" not in text


def test_crlf_template_stays_crlf() -> None:
    before = FLEET.read_text().replace("\n", "\r\n")
    after = patch_template(before, "fleet.json").text
    assert after.count("\n") == after.count("\r\n") == before.count("\r\n") + 1


def test_vm_in_a_nested_deployments_inline_template_is_patched() -> None:
    text = json.dumps(
        {
            "resources": [
                {
                    "type": "Microsoft.Resources/deployments",
                    "apiVersion": "2022-09-01",
                    "name": "inner",
                    "properties": {
                        "mode": "Incremental",
                        "template": {
                            "resources": [
                                {
                                    "type": "Microsoft.Compute/virtualMachines",
                                    "apiVersion": "2024-03-01",
                                    "name": "deep",
                                    "properties": {"osProfile": {"linuxConfiguration": {}}},
                                }
                            ]
                        },
                    },
                }
            ]
        },
        indent=2,
    )
    out = patch_template(text)
    deep = read_json(out.text, "t").value["resources"][0]["properties"]["template"]["resources"][0]
    assert deep["apiVersion"] == FIPS_API
    assert deep["properties"]["additionalCapabilities"] == {"enableFips1403Encryption": True}
    assert "properties.template.resources[0]" in out.changed[0]
