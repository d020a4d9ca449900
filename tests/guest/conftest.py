"""Shared set-up for the guest tests: bubblewrap-marked tests skip (with the reason) where
bubblewrap cannot create namespaces."""

from __future__ import annotations

import pytest

from fipswizard.guest.runners import bwrap_problem


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = bwrap_problem()
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"needs bubblewrap: {problem}")
    for item in items:
        if "bwrap" in item.keywords:
            item.add_marker(skip)
