"""Logging: a file with details (tracebacks included), every line passed through `redact`.

The file is opened through `files.open_private` (no symlink followed, 0600 whatever the
umask). The log is a diagnostic aid: when its path is refused, fipswizard says so on stderr
and runs without it rather than failing the operator's command.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from fipswizard.errors import BadInput
from fipswizard.files import open_private
from fipswizard.secrets import redact


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _LogFile(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler on a privately opened file that closes the file with itself."""

    def close(self) -> None:
        try:
            self.flush()
            self.stream.close()
        finally:
            super().close()


def default_log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fipswizard" / "fipswizard.log"


def setup_logging(verbose: bool = False, path: Path | None = None) -> Path:
    """Log to a file (always) and, with --verbose, to stderr too. Returns the log path."""
    path = path or default_log_path()
    root = logging.getLogger("fipswizard")
    root.setLevel(logging.DEBUG)
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: logging.Handler
    try:
        stream = os.fdopen(open_private(path, append=True, what="log"), "a", encoding="utf-8")
        handler = _LogFile(stream)
    except BadInput as err:
        print(f"fipswizard: not logging to a file: {redact(str(err))}", file=sys.stderr)
        handler = logging.NullHandler()
    handlers: list[logging.Handler] = [handler]
    if verbose:
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(RedactingFilter())
        root.addHandler(h)
    return path
