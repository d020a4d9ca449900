"""The preflight verdicts live in the engine (both front ends show them): re-exported for the
screens that import them from here."""

from fipswizard.engine.findings import Finding, VmRow, finding_line, vm_rows

__all__ = ["Finding", "VmRow", "finding_line", "vm_rows"]
