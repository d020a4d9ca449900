"""files.py: every file fipswizard writes is private and never reached through a symlink."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipswizard.errors import BadInput
from fipswizard.files import ensure_private_dir, open_private, write_private_text


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_0600_and_folders_0700_under_umask_000(tmp_path: Path, umask_000: None) -> None:
    target = tmp_path / "a" / "b" / "f.txt"
    write_private_text(target, "one\n")
    assert target.read_text() == "one\n" and mode(target) == 0o600
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700


def test_created_0600_under_a_restrictive_umask(tmp_path: Path) -> None:
    old = os.umask(0o277)  # would give 0400: the tool still needs to append
    try:
        write_private_text(tmp_path / "f", "x")
        ensure_private_dir(tmp_path / "d")
    finally:
        os.umask(old)
    assert mode(tmp_path / "f") == 0o600 and mode(tmp_path / "d") == 0o700


def test_existing_file_tightened_and_existing_folder_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "j.jsonl"
    path.parent.mkdir(mode=0o755)
    path.parent.chmod(0o755)
    path.write_text("old\n")
    path.chmod(0o644)
    os.close(open_private(path, append=True))
    assert mode(path) == 0o600 and path.read_text() == "old\n"  # append keeps the content
    assert mode(path.parent) == 0o755  # not created by the tool: not ours to change
    write_private_text(path, "new\n")
    assert path.read_text() == "new\n"


@pytest.mark.parametrize("append", [True, False])
def test_symlink_refused_and_target_untouched(tmp_path: Path, append: bool) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(BadInput, match="link: is a symbolic link"):
        open_private(tmp_path / "link", append=append, what="journal")
    assert victim.read_text() == "precious\n" and mode(victim) == 0o644


def test_dangling_symlink_does_not_create_its_target(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(BadInput, match="symbolic link"):
        write_private_text(tmp_path / "link", "x")
    assert not (tmp_path / "nowhere").exists()


def test_folder_fifo_and_file_as_folder_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(BadInput, match="is a directory"):
        open_private(tmp_path / "dir", append=True)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(BadInput, match="fifo"):  # never blocks waiting for a reader
        open_private(tmp_path / "fifo", append=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match="not a folder"):
        write_private_text(tmp_path / "file" / "child", "x")
    (tmp_path / "dirlink").symlink_to(tmp_path / "absent-dir")
    with pytest.raises(BadInput, match="not a folder"):
        ensure_private_dir(tmp_path / "dirlink")
    assert not (tmp_path / "absent-dir").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        with pytest.raises(BadInput, match="ro"):
            write_private_text(tmp_path / "ro" / "sub" / "f", "x")
    finally:
        (tmp_path / "ro").chmod(0o700)
