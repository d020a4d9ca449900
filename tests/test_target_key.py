"""Issue 11: identity is typed. A target key is read back in one place (TargetKey.parse); the
engine and the screens never split "sub/rg/vm" themselves."""

from __future__ import annotations

import ast
from pathlib import Path

from fipswizard.context import Target, TargetKey, key_name
from fipswizard.engine.events import StepStarted
from fipswizard.engine.plan import subscription_key
from fipswizard.engine.report import TargetSummary, progress_line
from fipswizard.engine.rollback import _target_of

ROOT = Path(__file__).resolve().parent.parent
SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"


def test_a_vm_key_round_trips_through_its_text() -> None:
    t = Target(SUB, "rg-web", "vm1", "AzureUSGovernment")
    assert TargetKey.parse(t.key) == t.target_key == TargetKey(SUB, "rg-web", "vm1")
    assert str(t.target_key) == t.key == f"{SUB}/rg-web/vm1"
    assert Target.from_key(t.key, "AzureUSGovernment") == t
    assert Target.from_key(t.target_key, "AzureUSGovernment") == t
    assert t.target_key.is_vm and t.target_key.name == "vm1"


def test_a_subscription_unit_is_not_a_vm_and_reads_as_a_short_id() -> None:
    key = subscription_key(SUB)
    typed = TargetKey.parse(key)
    assert typed == TargetKey.for_subscription(SUB) and str(typed) == key
    assert not typed.is_vm and Target.from_key(key) is None and _target_of(key, "c") is None
    assert key_name(key) == "subscription 0b1f6471…"
    # the run model and the headless progress lines read the same name (they used to show
    # "subscription:<id>" whole because they split on "/")
    assert TargetSummary(key).name == key_name(key) and not TargetSummary(key).is_vm
    event = StepStarted(
        at=0.0, target=key, step_id="feature", title="Register the feature", risk="reversible"
    )
    assert progress_line(event) == f"[{key_name(key)}] Register the feature ..."


def test_a_vms_arm_resource_id_reads_as_the_same_vm() -> None:
    arm = f"/subscriptions/{SUB}/resourceGroups/RG-Web/providers/microsoft.compute/"
    arm += "virtualMachines/vm1"
    assert TargetKey.parse(arm) == TargetKey(SUB, "RG-Web", "vm1") and key_name(arm) == "vm1"
    other = f"/subscriptions/{SUB}/resourceGroups/g/providers/Microsoft.Network/nics/vm1"
    assert TargetKey.parse(other).name == other and Target.from_key(other) is None


def test_keys_of_neither_form_are_kept_whole_and_never_addressed() -> None:
    for odd in ("vm1", "a/b", "a//c", "a/b/c/d"):
        typed = TargetKey.parse(odd)
        assert typed.name == odd and Target.from_key(odd) is None
    assert key_name("") == "" and str(TargetKey.parse("")) == ""


def _key_splits(path: Path) -> list[str]:
    """`.split("/")`, `.rsplit("/", …)`, `.partition("/")` and `.split(":")` calls in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"split", "rsplit", "partition", "rpartition"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in {"/", ":"}
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_engine_and_screens_split_no_target_keys() -> None:
    files = [*(ROOT / "fipswizard" / "engine").glob("*.py"), *(ROOT / "screens").glob("*.py")]
    files += [ROOT / "fipswizard" / "headless" / "demo.py"]
    assert [hit for f in sorted(files) for hit in _key_splits(f)] == []
