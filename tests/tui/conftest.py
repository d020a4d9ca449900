"""Shared fixtures for the TUI tests: logging to a temp file, never the user's state dir."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _quiet_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("FIPSWIZARD_EXIT_AFTER_FIRST_PAINT", raising=False)
    monkeypatch.delenv("FIPSWIZARD_ARM_ENDPOINT", raising=False)


@pytest.fixture
def sandbox_opts(monkeypatch: pytest.MonkeyPatch) -> object:
    """Options answering from an in-process sandbox at the public ARM URL (no port, no I/O)."""
    from fipswizard.sandbox import SandboxAzure, demo_estate
    from fipswizard.session import Options

    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "tui-test-token")
    sandbox = SandboxAzure(demo_estate(), wall_start=1_750_000_000.0)
    return Options(transport=sandbox.transport())
