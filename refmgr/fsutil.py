"""Durable file writes: write a temporary file, fsync it, rename it over the target."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from refmgr.filelocks import failpoint


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
