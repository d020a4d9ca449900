"""Drive one engine run (apply or rollback) in its own worker, feeding a RunScreen.

The engine worker is separate from the wizard's so that cancelling it stops the run
safely: the journal keeps what was done. The wizard awaits it and then the screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.worker import WorkerCancelled, WorkerFailed

from fipswizard.engine.events import Event
from fipswizard.engine.report import Summary
from fipswizard.secrets import redact
from screens.messages import RunEnded, engine_message
from screens.run import RunScreen
from screens.run_record import RunRecord

ENGINE_GROUP = "engine"
Job = Callable[[Callable[[Event], None]], Awaitable[Any]]


class RunFeed:
    """What one run produced: the summary (as `apply` folds it) and the record."""

    def __init__(self, screen: RunScreen) -> None:
        self.screen = screen
        self.summary = Summary()
        # One run model: the record reads the summary's targets (folded once, below) and adds
        # only the operator's answers and declines.
        self.record = RunRecord(self.summary)
        self.how = ""

    def __call__(self, event: Event) -> None:
        self.summary.add(event)
        self.record.add(event)
        self.screen.post_message(engine_message(event))


def ended_text(how: str, summary: Summary, journal: Path, error: str = "") -> str:
    return redact(_ended_text(how, summary, journal, error))


def _ended_text(how: str, summary: Summary, journal: Path, error: str) -> str:
    if how == "finished":
        good = sum(str(t.outcome) == "compliant" for t in summary.targets.values())
        return f"Finished: {good} of {len(summary.targets)} target(s) ended well."
    if how == "cancelled":
        return (
            f"Cancelled. The journal {journal} keeps the state: resume it from the first "
            "screen, or roll it back."
        )
    return f"The run stopped: {error}. The journal {journal} keeps the state."


async def drive(
    app: App[Any],
    feed: RunFeed,
    job: Job,
    journal: Path,
    on_error: Callable[[BaseException], Awaitable[None]],
) -> RunFeed:
    """Show the screen, run the job in the engine worker, report how it ended, await the screen."""
    screen = feed.screen
    closed = app.push_screen(screen, wait_for_dismiss=True)
    worker = app.run_worker(
        job(feed), group=ENGINE_GROUP, exclusive=True, exit_on_error=False, name="engine run"
    )
    error = ""
    try:
        await worker.wait()
        feed.how = "finished"
    except WorkerCancelled:
        feed.how = "cancelled"
        while (
            len(app.screen_stack) > 1
            and app.screen_stack[-1] is not screen
            and screen in app.screen_stack
        ):
            app.pop_screen()  # a question the cancelled run left open
    except WorkerFailed as failed:
        feed.how, error = (
            "failed",
            str(failed.error).splitlines()[0] if str(failed.error) else type(failed.error).__name__,
        )
        await on_error(failed.error)
    screen.post_message(RunEnded(feed.how, ended_text(feed.how, feed.summary, journal, error)))
    await closed
    return feed
