"""Turn any exception into what the error dialog shows: never a traceback on screen."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fipswizard.errors import FipsWizardError
from fipswizard.secrets import redact

log = logging.getLogger("fipswizard.tui")


@dataclass(frozen=True)
class ErrorInfo:
    title: str
    code: str  # the ARM error code, or the kind of problem
    message: str
    advice: str


def describe_error(err: BaseException, log_path: str = "") -> ErrorInfo:
    """Code, message and suggested action; unexpected errors point at the log file."""
    if isinstance(err, FipsWizardError):
        log.warning("shown to the operator: %s", err, exc_info=err)
        text = err.message
        label = getattr(err, "label", None)  # ArmError: the HTTP status or operation state
        if label:
            text = f"ARM {label}: {err.message}"
        return ErrorInfo(
            "Azure refused the request" if label else "Cannot go on",
            redact(err.code),
            redact(text),
            redact(err.advice),
        )
    log.error("internal error in the TUI", exc_info=err)
    where = f" (details in {log_path})" if log_path else " (details in the log file)"
    return ErrorInfo(
        "Internal error",
        type(err).__name__,
        redact(f"{type(err).__name__}: {err}"),  # the traceback goes to the log, never here
        "this is a bug in fipswizard; please report it with the log file" + where,
    )
