"""Every remedy the tool prints is runnable as printed (issue 7.9): no flag that does not exist."""

from __future__ import annotations

import re

from fipswizard.guest.detect import GuestFacts
from fipswizard.guest.preflight import preflight
from fipswizard.headless.cli import _parser
from fipswizard.recipe import DEFAULT_SECRET_SOURCES


def cli_flags() -> set[str]:
    flags: set[str] = set()
    parser = _parser()
    parsers = [parser]
    while parsers:
        p = parsers.pop()
        for action in p._actions:
            flags.update(s for s in action.option_strings if s.startswith("--"))
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                parsers += choices.values()
    return flags


def test_pro_token_refusal_names_the_real_way_to_give_the_secret() -> None:
    facts = GuestFacts(os_id="ubuntu", os_version="22.04", pro_attached=False)
    texts = [f.message for f in preflight(facts, None) if f.code == "pro-attach"]
    assert texts, "an unattached Ubuntu without a token is refused"
    for text in texts:
        assert set(re.findall(r"--[a-z][a-z-]+", text)) <= cli_flags(), text
        assert DEFAULT_SECRET_SOURCES["pro_token"].split(":", 1)[1] in text
