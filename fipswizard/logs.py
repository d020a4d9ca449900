"""Logging: a file with details (tracebacks included), every line passed through `redact`.

`RunLogger` records every run of apply, rollback and demo (both front ends, wired once in
`session.run_apply`/`run_rollback`): a start line, one line per step outcome with its
duration, a line per VM outcome and an end line with the outcomes and the exit code. Each
line carries the formatter's timestamp.

The file is opened through `files.open_private` (no symlink followed, 0600 whatever the
umask). The log is a diagnostic aid: when its path is refused, fipswizard says so on stderr
and runs without it rather than failing the operator's command.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from fipswizard.engine.events import Event, StepFinished, StepStarted, TargetFinished
from fipswizard.errors import BadInput
from fipswizard.files import open_private
from fipswizard.secrets import redact

if TYPE_CHECKING:
    from fipswizard.engine.report import RunReport

RUN_LOGGER = "fipswizard.run"


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


def _one_line(text: str) -> str:
    return " / ".join(part.strip() for part in text.splitlines() if part.strip())


class RunLogger:
    """Writes one run's record to the log: `start` before anything is read or written, each
    event as it comes (call the logger with it), and `finish` (or `failed`) at the end.

    Every message goes through the file handler's redacting filter; details are also
    redacted here so that a record never depends on which handlers are attached."""

    def __init__(self, command: str, source: str, logger: logging.Logger | None = None) -> None:
        self.command, self.source = command, source
        self.log = logger or logging.getLogger(RUN_LOGGER)
        self.run_id = ""
        self._began: dict[tuple[str, str], float] = {}

    def _info(self, text: str) -> None:
        self.log.info("%s", redact(text))

    def start(
        self, run_id: str, correlation_id: str, targets: Iterable[str], compute_api: str = ""
    ) -> None:
        from fipswizard import __version__

        self.run_id = run_id
        keys = list(targets)
        self._info(
            f"run start: {self.command} {self.source} run={run_id} "
            f"correlation={correlation_id} fipswizard={__version__} "
            f"compute_api={compute_api or '-'} targets={len(keys)}: {', '.join(keys)}"
        )

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self._began[(event.target, event.step_id)] = event.at
        elif isinstance(event, StepFinished):
            began = self._began.pop((event.target, event.step_id), None)
            took = "" if began is None else f" in {max(0.0, event.at - began):.3f}s"
            detail = _one_line(event.detail)
            if event.advice and event.advice not in detail:
                detail += f" (what to do: {_one_line(event.advice)})"
            self._info(f"step {event.target} {event.step_id}: {event.status}{took}: {detail}")
        elif isinstance(event, TargetFinished):
            self._info(f"target {event.target} => {event.outcome}: {_one_line(event.detail)}")

    def finish(self, report: RunReport) -> None:
        took = "" if report.duration is None else f" duration={report.duration:.3f}s"
        outcomes = ", ".join(f"{k}={v}" for k, v in report.outcomes().items()) or "none"
        self._info(
            f"run end: {self.command} run={self.run_id} exit={report.exit_code()}{took} "
            f"outcomes: {outcomes}"
        )

    def failed(self, err: BaseException) -> None:
        why = _one_line(str(err)) or type(err).__name__
        self._info(f"run end: {self.command} run={self.run_id} stopped: {why}")
