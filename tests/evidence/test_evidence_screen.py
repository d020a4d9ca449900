"""The TUI Evidence view at 100x32, from the demo's golden evidence document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.app import App

from screens.evidence import EvidenceScreen, module_cell

DOC = Path(__file__).parent.parent / "golden" / "evidence" / "evidence.json"


class _Host(App[None]):
    TITLE = "fipswizard"

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__()
        self.doc = doc

    def on_mount(self) -> None:
        self.push_screen(EvidenceScreen(self.doc, Path("/srv/fips-evidence")))


def test_evidence_view_snapshot(snap_compare: Any) -> None:
    doc = json.loads(DOC.read_text())
    assert snap_compare(_Host(doc), terminal_size=(100, 32))


def test_module_cells_name_the_certificate() -> None:
    doc = json.loads(DOC.read_text())
    web = next(vm for vm in doc["vms"] if vm["name"] == "ubuntu2204-web")
    assert module_cell(web, "openssl") == "interim #4794"
    assert module_cell(web, "kernel") == "update stream #4894"
    flatcar = next(vm for vm in doc["vms"] if vm["name"] == "flatcar-edge")
    assert module_cell(flatcar, "openssl") == "none"


async def test_o_opens_the_report_and_escape_goes_back() -> None:
    doc = json.loads(DOC.read_text())
    host = _Host(doc)
    opened: list[str] = []
    host.open_url = lambda url, **_: opened.append(url)  # type: ignore[method-assign]
    async with host.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        assert isinstance(host.screen, EvidenceScreen)
        await pilot.press("o")
        assert opened == ["file:///srv/fips-evidence/report.html"]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(host.screen, EvidenceScreen)
