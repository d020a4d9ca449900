"""`fipswizard demo`: the whole job against the built-in simulated Azure, nothing to configure.

The sandbox serves on a loopback port inside this process; the demo recipe names every VM
of the demo estate, each covering one interesting case, and the demo checks that each VM
ends in the state that case should end in.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fipswizard.context import key_name
from fipswizard.demo_env import compare, demo_environment
from fipswizard.engine.approvals import ApprovalItem
from fipswizard.engine.prompter import Prompter


class _DemoPrompter:
    """The demo is simulated: approve everything, but say so."""

    async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
        for item in items:
            who = key_name(item.target)
            print(f"[demo] auto-approving for {who}: {item.line()}", file=sys.stderr)
        return {item.key for item in items}


async def run_demo(args: argparse.Namespace) -> int:
    from fipswizard.headless.commands import print_progress
    from fipswizard.session import run_apply

    workdir = Path(args.workdir) if args.workdir else None
    async with demo_environment(workdir) as env:
        print(f"simulated Azure at {env.endpoint}; recipe {env.recipe_path}", file=sys.stderr)
        for name, text in env.scenarios.items():
            print(f"  {name}: {text}", file=sys.stderr)
        prompter: Prompter = _DemoPrompter()
        summary = await run_apply(
            env.recipe, env.opts, prompter, env.journal_path, print_progress, command="demo"
        )
    print(summary.to_text())
    problems = compare(summary, env.expected)
    if problems:
        print("demo: some VMs did not end as expected:\n  " + "\n  ".join(problems))
        return 1
    print(f"demo: all {len(env.expected)} VMs ended as expected (journal {env.journal_path})")
    return 0
