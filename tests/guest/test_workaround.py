"""Microsoft's WALinuxAgent 2.7.0.6 workaround (rhel9/agent-workaround) in a RHEL 9.5 root."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fipswizard.guest.recipes import load_guest_recipe

from .distro_files import DAEMON_MAIN
from .fakeroots import digest, rhel_root
from .harness import DONE, NEEDED, REFUSED, Guest, assert_step_contract, show
from .standins import tool_calls

pytestmark = pytest.mark.bwrap
STEP = "agent-workaround"
EXPECTED = "        # self._initialize_telemetry()"


def guest(tmp_path: Path, daemon: str = "2.7.0.6") -> Guest:
    return Guest(rhel_root(tmp_path / "root", daemon=daemon), "rhel9")


async def grep_telemetry(g: Guest) -> str:
    """`grep self\\._initialize_telemetry FILE` exactly as Microsoft's doc runs it."""
    proc = await asyncio.create_subprocess_exec(
        "grep",
        r"self._initialize_telemetry",
        str(g.fake.path / DAEMON_MAIN),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return out.decode()


def test_the_fixture_has_the_2706_shape(tmp_path: Path) -> None:
    lines = rhel_root(tmp_path / "root").read(DAEMON_MAIN).splitlines()
    assert lines[119:122] == [
        "    def _initialize_telemetry(self):",
        "        protocol = self.protocol_util.get_protocol()",
        "        initialize_event_logger_vminfo_common_parameters(protocol)",
    ]
    assert lines[143] == "        self.provision_handler.run()"
    assert lines[147] == "        self._initialize_telemetry()"


def test_title_and_notes_say_microsoft_calls_it_test_only() -> None:
    recipe = load_guest_recipe("rhel9")
    assert "test-only" in recipe.step(STEP).title
    assert any("testing only" in note for note in recipe.notes)


async def test_apply_gives_exactly_microsofts_line_and_rollback_restores(tmp_path: Path) -> None:
    g = guest(tmp_path)
    await assert_step_contract(g, STEP)  # includes the byte-identical rollback
    await g.applied(STEP)
    assert await grep_telemetry(g) == EXPECTED + "\n"
    calls = tool_calls(g.fake.path, "systemctl")
    assert calls[-2:] == ["systemctl stop waagent", "systemctl start waagent"]


async def test_only_the_call_line_changes(tmp_path: Path) -> None:
    g = guest(tmp_path)
    before = g.fake.read(DAEMON_MAIN).splitlines()
    await g.applied(STEP)
    after = g.fake.read(DAEMON_MAIN).splitlines()
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [147]


@pytest.mark.parametrize("daemon", ["2.14.0.1", "2.9.1.1"])
async def test_other_daemons_are_left_byte_identical(tmp_path: Path, daemon: str) -> None:
    g = guest(tmp_path, daemon)
    fresh = digest(g.fake.path)
    res = await g.check(STEP)
    assert res.rc == DONE and "not applicable" in res.stdout, show(res)
    res = await g.apply(STEP)
    assert res.rc == DONE, show(res)
    assert digest(g.fake.path) == fresh
    assert "        self._initialize_telemetry()" in g.fake.read(DAEMON_MAIN)
    assert not tool_calls(g.fake.path, "systemctl")


async def test_unexpected_file_shape_is_refused_untouched(tmp_path: Path) -> None:
    g = guest(tmp_path)
    main = g.fake.file(DAEMON_MAIN)
    main.write_text(main.read_text() + "        self._initialize_telemetry()\n")
    fresh = digest(g.fake.path)
    res = await g.apply(STEP)
    assert res.rc == REFUSED and "2 uncommented" in res.stdout, show(res)
    assert digest(g.fake.path) == fresh


async def test_a_result_other_than_microsofts_line_is_restored(tmp_path: Path) -> None:
    g = guest(tmp_path)
    main = g.fake.file(DAEMON_MAIN)
    main.write_text(
        main.read_text().replace(
            "        self._initialize_telemetry()", "\tself._initialize_telemetry()"
        )
    )
    fresh = digest(g.fake.path)
    assert (await g.check(STEP)).rc == NEEDED
    res = await g.apply(STEP)
    assert res.rc == 1 and "restored unchanged" in res.stdout, show(res)
    assert digest(g.fake.path) == fresh  # file restored, backup dropped
    assert tool_calls(g.fake.path, "systemctl")[-1] == "systemctl start waagent"
