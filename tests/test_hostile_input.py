"""Hostile input through the command line: a malformed recipe or journal exits 2 with one
clear message and changes nothing (no ARM write, no file touched); the files fipswizard
writes never follow a symlink and are private (0600) whatever the umask.

The cases are the ones issue 13 found by mutating recipes and journals; the Hypothesis
suites (test_hypothesis_*.py) generate many more.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.events import Event
from fipswizard.engine.journal import Journal
from fipswizard.headless import commands
from fipswizard.headless.cli import main
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, make_plan
from tests.inproc import FAST

ARM = "https://management.azure.com"
SUB = "11111111-2222-3333-4444-555555555555"  # the demo estate's subscription
TOKEN = "eyJhbGciOiJSUzI1NiJ9.hostile-input-token.sig"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAzure]:
    """The simulated Azure in-process, wired under the real command line."""
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    sb = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    real = commands.options
    monkeypatch.setattr(
        commands,
        "options",
        lambda args: replace(real(args), settings=FAST, transport=sb.transport()),
    )
    yield sb


def recipe_of(*vms: str) -> Recipe:
    return Recipe(targets=tuple(RecipeTarget(Target(SUB, "fips-demo", v), "none") for v in vms))


def recorded_journal(path: Path, recipe: Recipe) -> None:
    """A journal as a run leaves it: the recipe, then every step of the plan begun and
    finished (real step records, from the same plan `apply` would build)."""
    plan = asyncio.run(make_plan(recipe, Options(arm_endpoint=ARM, settings=FAST), offline=True))
    j = Journal(path, "run1")
    j.append("recipe", text=dump_recipe(recipe), endpoint=ARM)
    j.append("run-start", correlation_id="c", recipe=recipe.path, targets=[], resumed=[])
    for unit in plan.units:
        for step in unit.steps:
            if step.kind in ("vm-flag", "validate-customscript"):
                j.append(
                    "step-begin",
                    target=unit.key,
                    step_id=step.id,
                    step=step.record(),
                    undo={"previous": False},
                )
                j.append("step-end", target=unit.key, step_id=step.id, status="applied")


def write_recipe(tmp_path: Path, recipe: Recipe) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(dump_recipe(recipe))
    return path


def run(*args: str) -> int:
    return main(["--arm-endpoint", ARM, *args])


# --- journals given to rollback and apply ------------------------------------------------


def _break_oldest_step(path: Path, breaker: str) -> None:
    lines = path.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if '"step-begin"' in line)
    record = json.loads(lines[n])
    if breaker == "params":
        del record["step"]["params"]["api"]  # what the vm-flag step sends with
    elif breaker == "risk":
        record["step"]["risk"] = "catastrophic"
    elif breaker == "kind":
        record["step"]["params"]["kind"] = "format-disk"
    else:
        del record[breaker]
    lines[n] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


TWO = ("ubuntu2204-web", "ubuntu2404-api")


def flags_on(sandbox: SandboxAzure) -> None:
    """As the recorded run left them: rolling the flag back is a write."""
    for vm in sandbox.estate.vms.values():
        if vm.name in TWO:
            vm.props.setdefault("additionalCapabilities", {})["enableFips1403Encryption"] = True


def test_valid_journal_rollback_sends_writes(sandbox: SandboxAzure, tmp_path: Path) -> None:
    """The control for the next test: this journal, intact, makes rollback write."""
    journal = tmp_path / "j.jsonl"
    recorded_journal(journal, recipe_of(*TWO))
    flags_on(sandbox)
    assert run("rollback", str(journal), "--yes") != 2
    assert sandbox.log.writes()


@pytest.mark.parametrize("breaker", ["params", "risk", "kind", "step", "step_id", "target"])
def test_malformed_step_record_rollback_exits_2_before_any_write(
    sandbox: SandboxAzure, tmp_path: Path, capsys: pytest.CaptureFixture[str], breaker: str
) -> None:
    # The broken record is the oldest, so the old code undid the other VM first (a write)
    # and then crashed: the remaining undos never ran.
    journal = tmp_path / "j.jsonl"
    recorded_journal(journal, recipe_of(*TWO))
    flags_on(sandbox)
    _break_oldest_step(journal, breaker)
    before = journal.read_bytes()
    assert run("rollback", str(journal), "--yes") == 2
    err = capsys.readouterr().err
    assert f"{journal}:3:" in err and "Traceback" not in err
    assert sandbox.log.entries() == []  # not even a read
    assert journal.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"[1, 2]\n", "a JSON object"),
        (b'"text"\n', "a JSON object"),
        (b'{"ts": 1, "run": "r"}\n', "'event'"),
        (b'{"ts": 1, "event": "recipe", "text": "x"}\n', "'run'"),
        (b'{"ts": true, "run": "r", "event": "recipe", "text": "x"}\n', "'ts'"),
        (b'{"ts": 1, "run": "r", "event": "teleport"}\n', "'event'"),
        (b'{"ts": 1, "run": "r", "event": "step-end", "step_id": "a"}\n', "'target'"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary\n", "not UTF-8"),
        (b"\x00\x01\x02\n{}\n", "not JSON"),
        (b"[" * 100_000 + b"\n{}\n", "not JSON"),
    ],
    ids=[
        "list",
        "string",
        "no-event",
        "no-run",
        "bool-ts",
        "unknown-event",
        "no-target",
        "binary",
        "control",
        "deep",
    ],
)
def test_bad_journal_lines_exit_2_naming_path_line_field(
    sandbox: SandboxAzure,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    fragment: str,
) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_bytes(content)
    assert run("rollback", str(journal), "--yes") == 2
    err = capsys.readouterr().err
    assert f"{journal}:1:" in err and fragment in err and "Traceback" not in err
    assert len(err) < 600  # a 100,000-character line is not echoed
    assert journal.read_bytes() == content and sandbox.log.entries() == []


def test_journal_directory_and_symlink_exit_2(
    sandbox: SandboxAzure, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.jsonl").mkdir()
    assert run("rollback", str(tmp_path / "d.jsonl"), "--yes") == 2
    assert "is a directory" in capsys.readouterr().err
    real = tmp_path / "real.jsonl"
    recorded_journal(real, recipe_of("ubuntu2204-web"))
    (tmp_path / "link.jsonl").symlink_to(real)
    assert run("rollback", str(tmp_path / "link.jsonl"), "--yes") == 2
    assert "symbolic link" in capsys.readouterr().err
    assert sandbox.log.entries() == []


def test_apply_with_bad_journal_exits_2_and_leaves_it_byte_identical(
    sandbox: SandboxAzure, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = write_recipe(tmp_path, recipe_of("ubuntu2204-web"))
    journal = tmp_path / "bad.jsonl"
    journal.write_bytes(b'{"ts": 1, "run": "r", "event": "recipe", "text": "x = 1"}\n')
    before = journal.read_bytes()
    assert run("apply", str(recipe), "--yes", "--journal", str(journal)) == 2
    assert f"{journal} (recorded recipe)" in capsys.readouterr().err  # "x = 1" is not one
    assert journal.read_bytes() == before and sandbox.log.entries() == []
    journal.write_bytes(b'{"ts": 1, "run": "r", "event": "run-end"}\n[]\n')
    before = journal.read_bytes()
    assert run("apply", str(recipe), "--yes", "--journal", str(journal)) == 2
    assert f"{journal}:2:" in capsys.readouterr().err
    assert journal.read_bytes() == before and sandbox.log.entries() == []


def test_journal_of_another_recipe_needs_the_flag(
    sandbox: SandboxAzure, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "j.jsonl"
    recorded_journal(journal, recipe_of("rhel94-app"))  # flag already on: a quick apply
    before = journal.read_bytes()
    recipe = write_recipe(tmp_path, recipe_of("ubuntu2204-web"))
    assert run("apply", str(recipe), "--yes", "--journal", str(journal)) == 2
    err = capsys.readouterr().err
    assert "rhel94-app" in err and "--journal-of-other-recipe" in err
    assert journal.read_bytes() == before and sandbox.log.entries() == []
    # The same recipe's journal is accepted without a word (that is resume).
    same = write_recipe(tmp_path, recipe_of("rhel94-app"))
    assert run("apply", str(same), "--journal", str(journal), "--format", "json") != 2
    # And the flag accepts the other one.
    sandbox.log.clear()
    args = ["apply", str(recipe), "--journal", str(journal), "--journal-of-other-recipe"]
    assert run(*args) != 2
    assert sandbox.log.entries()
    assert "was recorded for recipe" not in capsys.readouterr().err


# --- files fipswizard writes --------------------------------------------------------------


def test_apply_refuses_a_symlinked_journal_and_leaves_its_target(
    sandbox: SandboxAzure, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = write_recipe(tmp_path, recipe_of("rhel94-app"))
    victim = tmp_path / "bashrc"
    victim.write_text("export PATH=/usr/bin\n")
    (tmp_path / "link.jsonl").symlink_to(victim)
    assert run("apply", str(recipe), "--yes", "--journal", str(tmp_path / "link.jsonl")) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "export PATH=/usr/bin\n"
    assert sandbox.log.writes() == []
    # A dangling link does not create its target either.
    (tmp_path / "dangling.jsonl").symlink_to(tmp_path / "created-by-link")
    assert run("apply", str(recipe), "--yes", "--journal", str(tmp_path / "dangling.jsonl")) == 2
    assert not (tmp_path / "created-by-link").exists()


def test_journal_and_log_are_0600_under_umask_000(sandbox: SandboxAzure, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, recipe_of("rhel94-app"))
    journal = tmp_path / "old.jsonl"
    recorded_journal(journal, recipe_of("rhel94-app"))
    journal.chmod(0o644)  # a journal from before this fix
    old = os.umask(0)
    try:
        assert run("apply", str(recipe), "--yes", "--journal", str(journal)) == 0
        assert run("apply", str(recipe), "--yes", "--journal", str(tmp_path / "new/j.jsonl")) == 0
    finally:
        os.umask(old)
    log = tmp_path / "state" / "fipswizard" / "fipswizard.log"
    for path in (journal, tmp_path / "new/j.jsonl", log):
        assert path.stat().st_mode & 0o777 == 0o600, path
    for folder in (tmp_path / "new", log.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


def test_symlinked_log_is_refused_and_its_target_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "state" / "fipswizard").mkdir(parents=True)
    victim = tmp_path / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA\n")
    (tmp_path / "state" / "fipswizard" / "fipswizard.log").symlink_to(victim)
    assert main(["recipe", "new", "--subscription", SUB, "--resource-group", "g", "--vm", "v"]) == 0
    err = capsys.readouterr().err
    assert "not logging to a file" in err and "symbolic link" in err
    assert victim.read_text() == "ssh-ed25519 AAAA\n"


def _new(*extra: str) -> list[str]:
    return ["recipe", "new", "--subscription", SUB, "--resource-group", "g", "--vm", "v", *extra]


def test_recipe_new_output_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    out = tmp_path / "missing" / "deeper" / "r.toml"
    old = os.umask(0)
    try:
        assert main(_new("-o", str(out))) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "missing").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "missing" / "deeper").stat().st_mode & 0o777 == 0o700
    assert main(_new("-o", str(tmp_path / "missing"))) == 2
    assert "is a directory" in capsys.readouterr().err
    (tmp_path / "link.toml").symlink_to(tmp_path / "elsewhere.toml")
    assert main(_new("-o", str(tmp_path / "link.toml"))) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere.toml").exists()
    (tmp_path / "file").write_text("x")
    assert main(_new("-o", str(tmp_path / "file" / "r.toml"))) == 2
    assert "not a folder" in capsys.readouterr().err


# --- recipes through the command line -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe", "not UTF-8"),
        ("version = 1\ncloud = 'Azure\u00e9'\n".encode("latin-1"), "not UTF-8"),
        (b"version = 1\ntarget = [1]\n", "must be a table"),
        (b"version = 1\n[[1]]\n", "unknown key"),
        (b"version = 1\ntarget = [[{}]]\n", "must be a table"),
        (b"version = 1\nx = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"version = true\n", "unsupported recipe version"),
        (b"version = 1.0\n", "unsupported recipe version"),
        (b"version = 1\n" + b"#" * (1024 * 1024 + 1), "larger than"),
    ],
    ids=[
        "binary",
        "latin-1",
        "target-int",
        "table-1",
        "target-nested",
        "deep",
        "version-true",
        "version-float",
        "huge",
    ],
)
def test_bad_recipe_files_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    fragment: str,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = tmp_path / "r.toml"
    path.write_bytes(content)
    assert main(["plan", str(path), "--offline"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and fragment in err and "Traceback" not in err


def test_secrets_never_in_log_or_output_under_verbose(
    sandbox: SandboxAzure,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real apply under --verbose, with a careless logger that logs the token with every
    event (as a library might): neither the log file, stderr, stdout nor the journal has it."""
    careless = logging.getLogger("fipswizard.careless")
    real = commands.print_progress

    def progress(event: Event) -> None:
        careless.debug("event %s with credential %s", type(event).__name__, TOKEN)
        real(event)

    monkeypatch.setattr(commands, "print_progress", progress)
    recipe = write_recipe(tmp_path, recipe_of("rhel94-app"))
    journal = tmp_path / "j.jsonl"
    args = ["-v", "--arm-endpoint", ARM, "apply", str(recipe), "--yes", "--journal", str(journal)]
    assert main(args) == 0
    out = capsys.readouterr()
    log = (tmp_path / "state" / "fipswizard" / "fipswizard.log").read_text()
    assert "with credential ***" in log and "with credential ***" in out.err
    for text in (out.out, out.err, log, journal.read_text()):
        assert TOKEN not in text
