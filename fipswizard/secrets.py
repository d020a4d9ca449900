"""Secrets: values that must never reach a recipe, journal, preview, log or report.

A `Secret` prints as `***`. Every secret created is also registered with `redact`, the
last line of defence applied to every line fipswizard writes (journal, log, stderr).
"""

from __future__ import annotations

import threading
from pathlib import Path

MASK = "***"
_known: set[str] = set()
_lock = threading.Lock()


class Secret:
    """A string that hides itself; call `reveal()` only where it is sent."""

    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str = "secret") -> None:
        self._value = value
        self.name = name
        if len(value) >= 4:  # shorter strings would redact ordinary words
            with _lock:
                _known.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name}={MASK})"

    def __str__(self) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self.name))


def redact(text: str) -> str:
    """Replace every known secret value in `text` with `***`."""
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def secret_from(
    name: str, *, value: str | None = None, file: str | Path | None = None
) -> Secret | None:
    """A secret from a value (an environment variable's, read by the caller) or a file (its
    first line); None if absent."""
    if value and value.strip():
        return Secret(value.strip(), name)
    if file:
        text = Path(file).read_text(encoding="utf-8").strip()
        if text:
            return Secret(text.splitlines()[0].strip(), name)
    return None
