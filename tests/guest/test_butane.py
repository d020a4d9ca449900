"""The Flatcar Butane template and render_butane (checked textually: no YAML library)."""

from __future__ import annotations

import re

import pytest

from fipswizard.errors import BadInput
from fipswizard.guest.butane import PLACEHOLDER, render_butane
from fipswizard.guest.recipes import load_guest_recipe

KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7fixturekeyonly operator@host # laptop: main"


def top_level_keys(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"(?m)^([a-z_]+):", text)]


def block(text: str, key: str) -> list[str]:
    """The lines nested under the first `key:` line (by indentation)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    out = []
    for line in lines[start + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        out.append(line)
    return out


def inline_config(text: str) -> str:
    """The /etc/ssl/openssl.cnf contents of the `inline: |` block scalar."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "inline: |")
    body = []
    for line in lines[at + 1 :]:
        if not line.startswith(" " * 10):
            break
        body.append(line[10:])
    return "\n".join(body) + "\n"


def test_template_without_keys() -> None:
    text = render_butane(None)
    assert PLACEHOLDER not in text and "passwd" not in text
    assert top_level_keys(text) == ["variant", "version", "kernel_arguments", "storage"]
    for line in (
        "variant: flatcar",
        "version: 1.0.0",
        "kernel_arguments:",
        "  should_exist:",
        "    - fips=1",
        "storage:",
        "  files:",
        "    - path: /etc/system-fips",
        "    - path: /etc/ssl/openssl.cnf",
    ):
        assert line in text.splitlines(), line
    files = block(text, "files")
    assert sum(1 for line in files if line.strip() == "overwrite: true") == 2
    assert sum(1 for line in files if line.strip() == "mode: 0644") == 2
    assert "\t" not in text
    assert all((len(x) - len(x.lstrip())) % 2 == 0 for x in text.splitlines() if x.strip())


def test_openssl_config_matches_the_in_place_recipe() -> None:
    """New instances (Butane) and running ones (flatcar.toml) get the same FIPS config."""
    snippet = load_guest_recipe("flatcar").step("openssl-cnf").apply
    want = re.search(r"<<'EOF'\n(.*?)\nEOF", snippet, re.S)
    assert want is not None
    assert inline_config(render_butane()) == want.group(1) + "\n"
    assert ".include /etc/ssl/fipsmodule.cnf" in want.group(1)


def test_keys_go_to_user_core_quoted() -> None:
    ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIfixture user@box"
    text = render_butane([KEY, ed, KEY, "  "])
    assert top_level_keys(text) == ["variant", "version", "passwd", "kernel_arguments", "storage"]
    users = block(text, "passwd")
    assert users[:3] == ["  users:", "    - name: core", "      ssh_authorized_keys:"]
    assert users[3:] == ['        - "' + KEY + '"', f'        - "{ed}"']  # de-duplicated


def test_quotes_and_backslashes_are_escaped() -> None:
    key = 'ecdsa-sha2-nistp256 AAAAE2VjZHNh say "hi" \\o/'
    line = next(x for x in render_butane([key]).splitlines() if "ecdsa" in x)
    assert line == '        - "ecdsa-sha2-nistp256 AAAAE2VjZHNh say \\"hi\\" \\\\o/"'


@pytest.mark.parametrize(
    "bad", ["ssh-rsa AAAA\nssh-rsa BBBB", "not-a-key AAAA", "ssh-rsa", "ssh-dss AAAAB3NzaC1kc3M"]
)
def test_bad_keys_are_refused(bad: str) -> None:
    with pytest.raises(BadInput, match="SSH key 1"):
        render_butane([bad])
