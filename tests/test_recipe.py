"""Recipes: round trip, and every malformed input names the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.errors import ExitCode, RecipeError
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe, load_recipe, parse_recipe

SUB = "11111111-2222-3333-4444-555555555555"
GOOD = f"""version = 1
cloud = "AzureCloud"
fix = "reallocate"

[[target]]
subscription = "{SUB}"
resource_group = "rg"
vm = "vm1"

[[target]]
subscription = "{SUB}"
resource_group = "rg"
vm = "vm2"
guest = "none"
"""


def test_parse_and_round_trip() -> None:
    recipe = parse_recipe(GOOD, "good.toml")
    assert [t.target.vm for t in recipe.targets] == ["vm1", "vm2"]
    assert recipe.targets[1].guest == "none" and recipe.targets[0].guest == "auto"
    again = parse_recipe(dump_recipe(recipe), "again.toml")
    assert again.targets == recipe.targets
    assert (again.fix, again.cloud, again.secrets) == (recipe.fix, recipe.cloud, recipe.secrets)


def test_dump_of_new_recipe_parses() -> None:
    r = Recipe(targets=(RecipeTarget(Target(SUB, "rg", "a"), "auto"),), fix="none")
    assert parse_recipe(dump_recipe(r)).fix == "none"


@pytest.mark.parametrize(
    ("text", "key", "line", "fragment"),
    [
        (GOOD.replace('fix = "reallocate"', 'fix = "reboot"'), "fix", 3, "reallocate | keyvault"),
        (GOOD.replace("version = 1", "version = 7"), "version", 1, "found 7"),
        (GOOD.replace('vm = "vm2"', 'vm = "bad name!"'), "target[1].vm", 13, "found 'bad name!'"),
        (
            GOOD.replace(
                f'subscription = "{SUB}"\nresource_group = "rg"\nvm = "vm2"',
                'subscription = "nope"\nresource_group = "rg"\nvm = "vm2"',
            ),
            "target[1].subscription",
            11,
            "subscription GUID",
        ),
        ("colour = 1\n" + GOOD, "colour", 1, "unknown key"),
        (GOOD + "colour = 1\n", "target[1].colour", 15, "unknown key"),
        (
            GOOD.replace('cloud = "AzureCloud"', 'cloud = "custom"'),
            "custom_cloud.arm_endpoint",
            None,
            "required",
        ),
        (GOOD.replace('vm = "vm2"', 'vm = "vm1"'), "target[1].vm", 13, "duplicate"),
        ("version = 1\n", "target", None, "at least one"),
    ],
)
def test_bad_recipes_name_file_line_key(
    text: str, key: str, line: int | None, fragment: str
) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "bad.toml")
    err = info.value
    assert err.key == key
    assert str(err).startswith("bad.toml")
    if line is not None:
        assert err.line == line and f"bad.toml:{line}:" in str(err)
    assert fragment in str(err)
    assert err.exit_code == ExitCode.BAD_INPUT


def test_syntax_error_has_line() -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe("version = 1\ncloud = \n", "x.toml")
    assert info.value.line == 2


def test_secret_values_refused_and_never_echoed() -> None:
    text = GOOD + '\n[secrets]\npro_token = "C1234567890abcdefTOKEN"\n'
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "s.toml")
    assert "C1234567890abcdefTOKEN" not in str(info.value)
    assert "env:VARIABLE | file:PATH" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="cannot read"):
        load_recipe(tmp_path / "absent.toml")


def test_compute_api_version_is_a_choice() -> None:
    recipe = parse_recipe('compute_api = "2024-11-01"\n' + GOOD, "r.toml")
    assert recipe.compute_api == "2024-11-01"
    assert parse_recipe(dump_recipe(recipe)).compute_api == "2024-11-01"
    with pytest.raises(RecipeError, match="YYYY-MM-DD"):
        parse_recipe('compute_api = "latest"\n' + GOOD, "r.toml")
