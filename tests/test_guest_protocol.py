"""One definition of each guest-protocol fact and of the agent minimum (issue 11 item 3).

The shell side (recipes/guest/lib.sh, agent.toml) cannot import Python, so these tests check
that it agrees with fipswizard/guest/protocol.py and fipswizard/versions.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from fipswizard.guest import protocol
from fipswizard.guest.runners import RunCommandRunner, parse_run_command
from fipswizard.sandbox.arm_runcommand import result_message
from fipswizard.versions import MIN_AGENT, older

ROOT = Path(__file__).parent.parent
LIB = (ROOT / "recipes/guest/lib.sh").read_text()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_protocol_is_a_leaf() -> None:
    mods = _imports(ROOT / "fipswizard/guest/protocol.py")
    assert not {m for m in mods if m.startswith("fipswizard")}, mods


def test_the_sandbox_imports_only_the_protocol_from_the_product() -> None:
    for path in sorted((ROOT / "fipswizard/sandbox").glob("*.py")):
        product = {
            m
            for m in _imports(path)
            if m.startswith("fipswizard") and not m.startswith("fipswizard.sandbox")
        }
        assert product <= {"fipswizard.guest.protocol"}, (path.name, product)


def test_lib_sh_speaks_the_same_exit_codes_and_marker_path() -> None:
    codes = dict(re.findall(r"^(fw_done|fw_needed|fw_refuse)\(\).*exit (\d+);", LIB, re.M))
    assert codes == {
        "fw_done": str(protocol.DONE),
        "fw_needed": str(protocol.NEEDED),
        "fw_refuse": str(protocol.REFUSED),
    }
    state = re.search(r"^FW_STATE=(\S+)$", LIB, re.M)
    assert state is not None and state.group(1) == protocol.STATE_DIR
    assert '"$FW_STATE/reboot-required"' in LIB
    assert protocol.REBOOT_MARK == f"{protocol.STATE_DIR}/reboot-required"
    assert f"${{{protocol.FLATCAR_EXTENSIONS_VAR}:-{protocol.FLATCAR_EXTENSIONS[0]}}}" in LIB


def test_the_wrapper_and_the_sandbox_agree_on_the_rc_line() -> None:
    wrapped = RunCommandRunner.wrap(RunCommandRunner.__new__(RunCommandRunner), "true", 60)
    assert f'echo "{protocol.RC_VAR}=$__fw_rc"' in wrapped
    assert f"echo '{protocol.RC_VAR}={protocol.NO_RC}'" in wrapped
    parsed = parse_run_command(
        {
            "value": [
                {
                    "code": "ProvisioningState/succeeded",
                    "message": result_message(protocol.NEEDED, "x", ""),
                }
            ]
        }
    )
    assert parsed.rc == protocol.NEEDED


def test_agent_recipe_defaults_to_the_one_minimum() -> None:
    text = (ROOT / "recipes/guest/agent.toml").read_text()
    defaults = set(re.findall(r"FW_MIN_AGENT:-([\d.]+)", text))
    assert defaults == {MIN_AGENT}


def test_no_module_redefines_the_minimum_or_the_comparison() -> None:
    for path in sorted((ROOT / "fipswizard").rglob("*.py")):
        if "sandbox" in path.parts or path.name == "versions.py":
            continue  # the sandbox models Azure on its own (FIPS_AGENT_MIN)
        text = path.read_text()
        assert not re.search(rf"=\s*\"{re.escape(MIN_AGENT)}\"", text), path
        assert "def _older(" not in text, path


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [
        ("2.12.0.4", MIN_AGENT, True),
        ("2.14.0.1", MIN_AGENT, False),
        ("2.15.0.0", MIN_AGENT, False),
        ("2.9.1.1", MIN_AGENT, True),  # not a string compare: 9 < 14
        ("Unknown", MIN_AGENT, False),  # unreadable: not called old
    ],
)
def test_older(version: str, minimum: str, expected: bool) -> None:
    assert older(version, minimum) is expected


def test_one_parser_for_script_facts() -> None:
    out = "marked_at=1 booted_at=2\nos_pretty=Ubuntu 22.04.4 LTS\nBad=1\n  \ndone=all good\n"
    assert protocol.parse_facts(out) == {
        "marked_at": "1",
        "booted_at": "2",
        "os_pretty": "Ubuntu 22.04.4 LTS",
        "done": "all good",
    }
    assert protocol.parse_facts("a=1 b=2\n", one_per_line=True) == {"a": "1 b=2"}
    for path in sorted((ROOT / "fipswizard").rglob("*.py")):  # no private copies left
        text = path.read_text()
        assert "def _kv(" not in text and "def _facts(" not in text, path
