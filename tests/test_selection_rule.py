"""The TUI's "Select by rule" fields become the same Selector `recipe new` builds from flags."""

from __future__ import annotations

import pytest

from fipswizard.azure.selection import Selector
from fipswizard.azure.selection_rule import rule_selector
from fipswizard.errors import BadInput


def test_fields_become_recipe_new_selector() -> None:
    got = rule_selector("sub", "rg", True, "env=prod, team=web ops", " Resources ", "a, rg/b c")
    assert got == Selector(
        subscriptions=("sub",),
        resource_groups=("rg",),
        tags=("env=prod", "team=web ops"),
        query="Resources",
        exclude=("a", "rg/b", "c"),
    )
    assert rule_selector("sub", "rg", False, "env=prod", "", "").resource_groups == ()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("sub", "rg", False, "", "", "x"), "nothing selects VMs"),
        (("sub", "rg", False, "env", "", ""), "KEY=VALUE"),
        (("", "", False, "env=prod", "", ""), "choose a subscription"),
    ],
)
def test_bad_rules_are_clear_errors(args: tuple[str, str, bool, str, str, str], says: str) -> None:
    with pytest.raises(BadInput, match=says) as err:
        rule_selector(*args)
    assert err.value.exit_code == 2
