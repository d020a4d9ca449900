"""Recipes: round trip, and every malformed input names the file, line and key."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.errors import ExitCode, RecipeError, RecipeProblems
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


@pytest.mark.parametrize("key", ["subscription", "resource_group", "vm"])
@pytest.mark.parametrize("junk", ["\n", " ", "\t", "\r\n", "\u0000"])
def test_whitespace_and_control_characters_in_names_refused(key: str, junk: str) -> None:
    # `$` matches before a trailing newline: "vm1\n" used to pass and crash apply in httpx.
    value = {"subscription": SUB, "resource_group": "rg", "vm": "vm1"}[key]
    text = GOOD.replace(f'{key} = "{value}"', f"{key} = {json.dumps(value + junk)}", 1)
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "n.toml")
    assert info.value.key == f"target[0].{key}"


@pytest.mark.parametrize("value", ["true", "1.0", '"1"', "[1]", "{ v = 1 }"])
def test_version_is_strictly_the_integer_1(value: str) -> None:
    with pytest.raises(RecipeError, match="unsupported recipe version"):
        parse_recipe(GOOD.replace("version = 1", f"version = {value}"), "v.toml")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('vm = "vm2"', 'vm = "{big}"'),
        ('fix = "reallocate"', 'fix = "{big}"'),
        ("version = 1", 'version = "{big}"'),
        ('cloud = "AzureCloud"', 'cloud = "AzureCloud"\nguest = "{big}"'),
        ('cloud = "AzureCloud"', 'cloud = "AzureCloud"\n{big} = 1'),
        ('cloud = "AzureCloud"', 'cloud = "AzureCloud"\ncompute_api = "{big}"'),
        ('vm = "vm2"', 'vm = "vm2"\nskip = "{big}"'),
    ],
)
def test_huge_values_are_abbreviated(old: str, new: str) -> None:
    big = "x" * 100_000
    with pytest.raises(RecipeError) as info:
        parse_recipe(GOOD.replace(old, new.format(big=big)), "big.toml")
    assert len(str(info.value)) < 400 and "100002 characters" in str(info.value)


def test_guest_id_is_bounded() -> None:
    # A guest id names a file: 300 characters ended in "OSError: File name too long".
    text = GOOD.replace('guest = "none"', f'guest = "{"a" * 300}"')
    with pytest.raises(RecipeError, match="target\\[1\\].guest"):
        parse_recipe(text, "g.toml")


@pytest.mark.parametrize(
    ("table", "key", "fragment"),
    [
        ('arm_endpoint = "ftp://arm.example"', "custom_cloud.arm_endpoint", "https://"),
        ('arm_endpoint = "http://arm.example"', "custom_cloud.arm_endpoint", "loopback"),
        ('arm_endpoint = "https://a:b@arm.example"', "custom_cloud.arm_endpoint", "credentials"),
        ('ca_bundle = "/nonexistent/ca.pem"', "custom_cloud.ca_bundle", "does not exist"),
        ('authority = "http://login.example"', "custom_cloud.authority", "https://"),
        ('scope = "a b"', "custom_cloud.scope", "spaces"),
    ],
)
def test_custom_cloud_errors_name_file_line_and_key(table: str, key: str, fragment: str) -> None:
    text = f'{GOOD}\n[custom_cloud]\nauthority = "login.example"\n{table}\n'.replace(
        'authority = "login.example"\nauthority', "authority"
    )
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "c.toml")
    assert info.value.key == key and fragment in str(info.value)
    assert str(info.value).startswith(f"c.toml:{info.value.line}:") and info.value.line


def test_skip_and_decline_round_trip() -> None:
    text = GOOD.replace(
        'guest = "none"',
        'guest = "none"\nskip = "refused at preflight: \\"agent 2.2\\" too old"\n'
        'decline = ["fix-reallocate", "guest-reboot", "ubuntu2204-pro.enable-fips"]',
    )
    recipe = parse_recipe(text, "s.toml")
    second = recipe.targets[1]
    assert second.skip == 'refused at preflight: "agent 2.2" too old'
    assert second.decline == ("fix-reallocate", "guest-reboot", "ubuntu2204-pro.enable-fips")
    assert recipe.targets[0].skip is None and recipe.targets[0].decline == ()
    dumped = dump_recipe(recipe)
    assert dumped.count("skip =") == 1 and dumped.count("decline =") == 1
    assert parse_recipe(dumped).targets == recipe.targets


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ('skip = ""', "empty"),
        ("skip = true", "must be a string"),
        ('skip = "two\\nlines"', "not accepted"),
        ('decline = "guest-reboot"', "must be a list"),
        ('decline = ["guest reboot"]', "invalid item"),
        ("decline = [1]", "invalid item"),
    ],
)
def test_skip_and_decline_validated(extra: str, fragment: str) -> None:
    with pytest.raises(RecipeError) as info:
        parse_recipe(GOOD.replace('guest = "none"', f'guest = "none"\n{extra}'), "s.toml")
    assert info.value.key.startswith("target[1].") and fragment in str(info.value)
    assert info.value.line == 15


def test_dump_escapes_every_control_character() -> None:
    # dump_recipe quotes values the TUI hands it; none may break the TOML it writes.
    r = Recipe(
        targets=(RecipeTarget(Target(SUB, "rg", "a"), "auto", skip="tab\there"),),
        keyvault={"vault_id": 'quote " back \\ del \x7f'},
    )
    assert tomllib.loads(dump_recipe(r))["keyvault"]["vault_id"] == r.keyvault["vault_id"]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b"version = 1\n\xff\xfe"), "not UTF-8"),
        (lambda p: p.write_bytes(b"x" * (1024 * 1024 + 1)), "larger than"),
        (lambda p: p.write_text("x = " + "[" * 3000 + "]" * 3000), "nested too deeply"),
    ],
)
def test_load_recipe_bad_files(tmp_path: Path, make: object, fragment: str) -> None:
    path = tmp_path / "r.toml"
    make(path)  # type: ignore[operator]
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)


def test_every_independent_problem_is_named_once() -> None:
    text = (
        'version = true\ncloud = "Mars"\nbogus = 1\n'
        '[[target]]\nsubscription = "11111111-2222-3333-4444-555555555555"\n'
        'resource_group = "rg\\n"\nvm = "a"\n'
        '[[target]]\nsubscription = "x"\nresource_group = "rg"\nvm = "b"\n'
    )
    with pytest.raises(RecipeProblems) as caught:
        parse_recipe(text, "bad.toml")
    lines = str(caught.value).splitlines()
    assert lines[0] == "5 problems in bad.toml:"
    assert [p.key for p in caught.value.problems] == [
        "bogus",
        "version",
        "cloud",
        "target[0].resource_group",
        "target[1].subscription",
    ]
    assert "bad.toml:1: key 'version'" in lines[2] and "bad.toml:9:" in lines[5]


def test_one_problem_is_reported_alone() -> None:
    text = (
        'version = 2\n[[target]]\nsubscription = "11111111-2222-3333-4444-555555555555"\n'
        'resource_group = "rg"\nvm = "a"\n'
    )
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text, "one.toml")
    assert not isinstance(caught.value, RecipeProblems)
    assert (
        str(caught.value)
        == "one.toml:1: key 'version': unsupported recipe version (found 2); allowed: 1"
    )
