"""Butane config for new Flatcar instances that boot straight into FIPS mode.

The template is `recipes/guest/flatcar-fips.bu` (variant flatcar 1.0.0: `fips=1` on the kernel
command line, /etc/system-fips, the OpenSSL FIPS provider config). `render_butane` adds the
`core` user's SSH keys where the template has its `#@ssh_keys` line. No YAML library: the
output is plain text the operator transpiles with `butane --strict`.
"""

from __future__ import annotations

from importlib.resources import files

from fipswizard.errors import BadInput

TEMPLATE = "flatcar-fips.bu"
PLACEHOLDER = "#@ssh_keys"
KEY_TYPES = (
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


def template_text() -> str:
    return (files("fipswizard_recipes") / "guest" / TEMPLATE).read_text(encoding="utf-8")


def render_butane(ssh_keys: list[str] | None = None) -> str:
    """The Butane config; with keys, a `passwd` block for user `core` replaces the marker."""
    text = template_text()
    lines = text.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.strip() == PLACEHOLDER]
    if len(at) != 1:
        raise RuntimeError(f"{TEMPLATE}: expected one '{PLACEHOLDER}' line, found {len(at)}")
    keys = _clean_keys(ssh_keys or [])
    block = []
    if keys:
        block = ["passwd:\n", "  users:\n", "    - name: core\n", "      ssh_authorized_keys:\n"]
        block += [f"        - {_quote(key)}\n" for key in keys]
    lines[at[0] : at[0] + 1] = block
    return "".join(lines)


def _clean_keys(keys: list[str]) -> list[str]:
    """One OpenSSH public key per entry, known type, no duplicates (Ignition refuses those)."""
    seen: list[str] = []
    for number, raw in enumerate(keys, start=1):
        key = raw.strip()
        if not key:
            continue
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
            raise BadInput(f"SSH key {number}: one key per entry, on one line")
        kind = key.split()[0]
        if kind not in KEY_TYPES or len(key.split()) < 2:
            raise BadInput(
                f"SSH key {number}: not an OpenSSH public key (type {kind[:40]!r}); "
                f"allowed types: {', '.join(KEY_TYPES)}"
            )
        if key not in seen:
            seen.append(key)
    return seen


def _quote(value: str) -> str:
    """A YAML double-quoted scalar (key comments may hold '#' or ': ')."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
