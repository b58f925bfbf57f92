"""Advisory file locks between refmgr processes, and the crash-test failpoints.

One wrapper for every lock refmgr takes (the repository's, each script's render lock):
the lock file lives in .refmgr/, and a lock held too long is a one-line error.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from refmgr.errors import LockError


@contextlib.contextmanager
def held(path: Path, *, timeout: float, busy: str) -> Iterator[None]:
    """Hold the lock file ``path``; after ``timeout`` seconds raise ``busy`` about it."""
    import filelock  # not on the commit-hook path, which never locks

    lock = filelock.FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockError(busy, path) from None
    try:
        yield
    finally:
        lock.release()


def failpoint(name: str) -> None:
    """Crash-test hook: REFMGR_FAILPOINT=NAME makes the process SIGKILL itself here, so tests
    can show that the next command finishes or discards the interrupted work."""
    if os.environ.get("REFMGR_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
