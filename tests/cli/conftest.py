from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.sandbox_proc import SandboxProc


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProc]:
    proc = SandboxProc(tmp_path)
    yield proc
    proc.stop()
