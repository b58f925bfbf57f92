"""Durable file writes (a temporary file, fsynced, renamed over the target), and bounded
reads of files a repository may point anywhere."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from refmgr.errors import RefmgrError
from refmgr.filelocks import failpoint

_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def regular_file_problem(mode: int) -> str | None:
    """Why a file of this st_mode cannot be read as data, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    return f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'a special file')})"


def open_regular(
    path: Path,
    max_bytes: int,
    error: type[RefmgrError] = RefmgrError,
    what: str = "file",
    hint: str = "",
) -> BinaryIO:
    """``path`` (symlinks followed) open for reading, once it is known to be a regular file
    of at most ``max_bytes``; ``what`` names it in messages, ``hint`` ends an over-limit one.

    Anything a command reads may come from a hostile clone or path: type and size are
    checked before anything is read, so /dev/zero, a FIFO or a huge file is refused at once
    (a device or socket is never even opened); the open is non-blocking (a FIFO swapped in
    after the check never waits for a writer) and the type is checked again on what was
    opened."""
    try:
        _check_regular(os.stat(path), path, max_bytes, error, what, hint)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"no such {what}", path) from None
    except OSError as e:
        raise error(f"cannot read: {e.strerror}", path) from None
    try:
        _check_regular(os.fstat(fd), path, max_bytes, error, what, hint)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_at_most(
    f: BinaryIO,
    path: Path,
    max_bytes: int,
    error: type[RefmgrError] = RefmgrError,
    what: str = "file",
    hint: str = "",
) -> bytes:
    """The rest of ``f``, refused past ``max_bytes`` (a file that grew since the check)."""
    try:
        data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"cannot read: {e.strerror}", path) from None
    if len(data) > max_bytes:
        raise error(f"over the limit of {max_bytes} bytes for a {what}{hint}", path)
    return data


def read_regular(
    path: Path,
    max_bytes: int,
    error: type[RefmgrError] = RefmgrError,
    what: str = "file",
    hint: str = "",
) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` (see open_regular)."""
    with open_regular(path, max_bytes, error, what, hint) as f:
        return read_at_most(f, path, max_bytes, error, what, hint)


def _check_regular(
    info: os.stat_result,
    path: Path,
    max_bytes: int,
    error: type[RefmgrError],
    what: str,
    hint: str,
) -> None:
    problem = regular_file_problem(info.st_mode)
    if problem is not None:
        if stat.S_ISDIR(info.st_mode) and what != "file":
            problem += f", not a {what}"
        raise error(problem, path)
    if info.st_size > max_bytes:
        raise error(
            f"over the limit of {max_bytes} bytes for a {what} ({info.st_size} bytes){hint}",
            path,
        )


def fsync_dir(directory: Path) -> None:
    # Makes a rename in the directory durable. Not possible on every platform: skip quietly.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_temp(directory: Path, data: bytes, prefix: str) -> Path:
    """Write ``data`` to a new fsynced temporary file in ``directory``; return its path."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old file or the new one, never a part."""
    tmp = write_temp(path.parent, data, prefix=f".{path.name}.")
    failpoint(f"after-temp:{path.name}")
    try:
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def remove_temporaries(path: Path) -> None:
    """Remove what ``atomic_write(path, ...)`` runs killed midway left beside ``path``.
    Only for a caller that holds the lock under which ``path`` is written: a temporary of
    a write in progress elsewhere would go too."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
