"""Every file fipswizard writes (journal, log, recipe, evidence) is opened here.

Why one helper: those files hold what recovery needs and details an attacker would like,
so each is opened without following a symbolic link (a planted `link -> ~/.bashrc` must not
receive JSON, and a dangling link must not create its target), created 0600 whatever the
umask, and tightened to 0600 when it already exists with a looser mode. Folders the tool
creates are 0700; folders that already exist are left as they are (not ours to change).
Every refusal is a `BadInput` naming the path, never a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from fipswizard.errors import BadInput

FILE_MODE = 0o600
DIR_MODE = 0o700
# O_NONBLOCK: opening a FIFO for writing would otherwise wait forever for a reader; it has
# no effect on regular files, and anything but a regular file is refused after fstat.
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _refusal(path: Path, err: OSError, what: str) -> BadInput:
    if err.errno == errno.ELOOP:
        return BadInput(f"{path}: is a symbolic link; refusing to follow it for the {what}")
    if err.errno == errno.EISDIR:
        return BadInput(f"{path}: is a directory; the {what} must be a file")
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        return BadInput(f"{path}: its folder does not exist or is not a folder ({what})")
    return BadInput(f"{path}: cannot write the {what}: {err.strerror}")


def ensure_private_dir(path: str | Path) -> Path:
    """Make sure `path` is a folder; the ones created here (parents included) are 0700."""
    p = Path(path)
    if p.is_dir():
        return p
    if p.exists() or p.is_symlink():
        raise BadInput(f"{p}: exists and is not a folder")
    if p.parent != p:
        ensure_private_dir(p.parent)
    try:
        os.mkdir(p, DIR_MODE)
        os.chmod(p, DIR_MODE)  # mkdir's mode is filtered by the umask; be exact
    except FileExistsError:
        if not p.is_dir():  # lost a race to something that is not a folder
            raise BadInput(f"{p}: exists and is not a folder") from None
    except OSError as err:
        raise BadInput(f"{p}: cannot create the folder: {err.strerror}") from None
    return p


def open_private(path: str | Path, *, append: bool, what: str = "file") -> int:
    """Open `path` for writing (appending or truncating): no symlink, regular file, 0600.

    Returns a file descriptor the caller closes."""
    p = Path(path)
    ensure_private_dir(p.parent)
    flags = _FLAGS | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(p, flags, FILE_MODE)
    except OSError as err:
        raise _refusal(p, err, what) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{p}: is not a regular file; the {what} must be one")
        if stat.S_IMODE(info.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)  # an existing 0644 file, or a umask of 000
    except OSError as err:
        os.close(fd)
        raise BadInput(f"{p}: cannot make the {what} private (0600): {err.strerror}") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private_text(path: str | Path, text: str, *, what: str = "file") -> None:
    """Replace the content of `path` with `text` (UTF-8), through `open_private`."""
    fd = open_private(path, append=False, what=what)
    try:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
