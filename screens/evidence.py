"""The Evidence view: per-VM claim levels from an evidence bundle, where it was written, and
a key to open report.html. Reached from the summary once a bundle has been written."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from fipswizard.evidence.render import WORDING

SHORT = {
    "validated-interim": "interim",
    "update-stream": "update stream",
    "in-process": "in process",
}


def module_cell(vm: dict[str, Any], kind: str) -> str:
    """e.g. "interim #4794": the module's claim level and its CMVP certificate."""
    for m in vm["modules"]:
        if m["kind"] == kind:
            cert = (m["certificate"] or {}).get("certificate")
            level = SHORT.get(str(m["level"]), str(m["level"]))
            return f"{level} #{cert}" if cert else level
    return "-"


class EvidenceScreen(Screen[None]):
    TITLE = "Evidence"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open_report", "Open report"),
        Binding("escape", "close", "Back"),
    ]

    def __init__(self, evidence: dict[str, Any], bundle: Path) -> None:
        super().__init__()
        self.evidence, self.bundle = evidence, bundle

    def compose(self) -> ComposeResult:
        ev = self.evidence
        yield Header(show_clock=False)
        with Vertical(id="evidence-body"):
            yield Static(
                f"[b]Evidence bundle[/b] {escape(str(self.bundle))}\n"
                f"Claim levels for {escape(ev['evidence_date'])}; CMVP catalog snapshot "
                f"{escape(ev['catalog']['snapshot'])}. Verify: sha256sum -c SHA256SUMS",
                id="evidence-head",
            )
            table: DataTable[str] = DataTable(id="evidence-table", cursor_type="row")
            yield table
            yield Static(escape(WORDING), id="evidence-wording")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name, width in (("VM", 21), ("Claim level", 21), ("OpenSSL", 19), ("Kernel", 19)):
            table.add_column(name, width=width)
        table.add_column("Failed checks")
        for vm in self.evidence["vms"]:
            failed = [c["id"].removeprefix("FIPS-") for c in vm["checks"] if c["result"] == "fail"]
            table.add_row(
                vm["name"],
                vm["claim_label"],
                module_cell(vm, "openssl"),
                module_cell(vm, "kernel"),
                ", ".join(failed) or "none",
                key=vm["name"],
            )
        table.focus()

    def action_open_report(self) -> None:
        report = (self.bundle / "report.html").resolve()
        self.app.open_url(report.as_uri())
        self.notify(f"Opening {report}")

    def action_close(self) -> None:
        self.dismiss(None)
