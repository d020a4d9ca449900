"""Logging: a file with details (tracebacks included), every line passed through `redact`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fipswizard.secrets import redact


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def default_log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fipswizard" / "fipswizard.log"


def setup_logging(verbose: bool = False, path: Path | None = None) -> Path:
    """Log to a file (always) and, with --verbose, to stderr too. Returns the log path."""
    path = path or default_log_path()
    root = logging.getLogger("fipswizard")
    root.setLevel(logging.DEBUG)
    root.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handlers = [handler]
    if verbose:
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(RedactingFilter())
        root.addHandler(h)
    return path
