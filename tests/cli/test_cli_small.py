"""Small commands through `main()`: recipe new, --help, butane, bad input exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.headless.cli import main
from fipswizard.recipe import load_recipe

SUB = "11111111-2222-3333-4444-555555555555"


def test_recipe_new_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.toml"
    args = [
        "recipe",
        "new",
        "--subscription",
        SUB,
        "--resource-group",
        "rg",
        "--vm",
        "a",
        "--vm",
        "b",
        "--guest",
        "none",
        "--fix",
        "keyvault",
        "--vault-id",
        "/x/vaults/v",
        "--certificate-url",
        "https://v.vault.azure.net/secrets/c/1",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    recipe = load_recipe(out)
    assert [t.target.vm for t in recipe.targets] == ["a", "b"] and recipe.fix == "keyvault"
    assert "next: fipswizard plan" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            ["recipe", "new", "--subscription", "nope", "--resource-group", "rg", "--vm", "a"],
            "subscription GUID",
        ),
        (
            [
                "recipe",
                "new",
                "--subscription",
                SUB,
                "--resource-group",
                "rg",
                "--vm",
                "a",
                "--fix",
                "keyvault",
            ],
            "--vault-id",
        ),
        (["plan", "/nonexistent/recipe.toml", "--offline"], "cannot read"),
    ],
)
def test_bad_input_exits_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


def test_help_teaches_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for word in ("demo --headless", "FIPSWIZARD_ACCESS_TOKEN", "exit codes", "130"):
        assert word in text


def test_butane(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["butane", "--ssh-key", "ecdsa-sha2-nistp256 AAAAE2Vj test"]) == 0
    text = capsys.readouterr().out
    assert "variant: flatcar" in text and "- fips=1" in text and "ecdsa-sha2-nistp256" in text


def test_plan_offline_needs_no_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIPSWIZARD_ACCESS_TOKEN", raising=False)
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'version = 1\nguest = "rhel9"\n[[target]]\nsubscription = "{SUB}"\n'
        'resource_group = "rg"\nvm = "db"\n'
    )
    assert main(["plan", str(recipe), "--offline"]) == 0
    text = capsys.readouterr().out
    assert "fips-mode-setup --enable" in text and "<location from GET>" in text
    assert "not read (--offline)" in text
