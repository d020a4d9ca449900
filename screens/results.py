"""Typed screen results: what each phase screen hands back to the wizard worker."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from fipswizard.recipe import Recipe


class Nav(StrEnum):
    NEXT = "next"
    BACK = "back"


@dataclass(frozen=True)
class UseRecipe:
    """Go on with these targets and choices (built on screen or opened from a file)."""

    recipe: Recipe


@dataclass(frozen=True)
class OpenRecipe:
    path: Path


@dataclass(frozen=True)
class ResumeJournal:
    path: Path


@dataclass(frozen=True)
class RollbackJournal:
    path: Path


TargetResult = UseRecipe | OpenRecipe | ResumeJournal | RollbackJournal


@dataclass(frozen=True)
class RunChoice:
    """The confirm screen's answer: run; which items it showed (`known`) and which of them the
    operator approved; whether to ask again before each disruptive step."""

    ask_each: bool = False
    approved: frozenset[tuple[str, str]] = frozenset()
    known: frozenset[tuple[str, str]] = frozenset()


class SummaryAction(StrEnum):
    ROLLBACK = "rollback"
    NEW = "new"
    QUIT = "quit"


@dataclass(frozen=True)
class SaveRecipe:
    path: Path


SummaryResult = SummaryAction | SaveRecipe
