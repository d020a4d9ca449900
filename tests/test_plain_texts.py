"""Issue 11: diagnosis and approval texts read without nested or stacked parentheses
("Fix: deallocate and start (new certificate package) (if needed)" was the example)."""

from __future__ import annotations

from pathlib import Path

from fipswizard.engine.approvals import ApprovalItem, plan_items
from fipswizard.guest.diagnose import COSTS, diagnose

P7M = "Failed to decrypt /var/lib/waagent/Certificates.p7m"
PFX = "ERROR ExtHandler Error converting PFX to PEM: unsupported DES-EDE3-CBC"


def awkward(text: str) -> str | None:
    """What is wrong with the parentheses of `text`, or None when they read plainly."""
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth > 1:
            return f"nested: {text!r}"
    if ") (" in text:
        return f"stacked: {text!r}"
    return None


def test_every_diagnosis_and_cost_reads_without_nested_parentheses() -> None:
    found = [
        diagnose(PFX, flag_on=None),
        diagnose(PFX, flag_on=False),
        diagnose(PFX, flag_on=True),
        diagnose(PFX, agent_version="2.2.40"),
        diagnose(P7M, daemon_version="2.7.0.6"),
    ]
    assert {d.cause for d in found if d} == {
        "vm-not-opted-in",
        "old-certificate-package",
        "agent-too-old",
        "agent-loop-2.7.0.6",
    }
    texts = [t for d in found if d for t in (d.explanation, d.cost)] + list(COSTS.values())
    assert [why for t in texts if (why := awkward(t))] == []


def test_a_conditional_approval_line_puts_if_needed_in_the_brackets() -> None:
    item = ApprovalItem("s/g/vm", "fix", "fix-reallocate", "Fix (x)", "downtime (2-5 min)", True)
    assert item.line() == "Fix (x) [fix-reallocate, if needed]: downtime (2-5 min)"
    assert awkward(item.line()) is None


async def test_the_demo_plans_approval_lines_read_plainly(tmp_path: Path) -> None:
    from fipswizard.demo_env import demo_environment
    from fipswizard.session import make_plan

    async with demo_environment(tmp_path) as env:
        plan = await make_plan(env.recipe, env.opts, offline=False)
    lines = [i.line() for i in plan_items(plan)]
    titles = [s.title for s in plan.all_steps()]
    assert any("if needed" in line for line in lines)
    assert [why for t in lines + titles if (why := awkward(t))] == []
