"""Changing the repository's reference files all-or-nothing, under one lock.

A change (some files written, some removed) is committed like this:
1. each new file is written to a temporary file beside its target and fsynced;
2. a journal naming every rename and removal is written atomically to .refmgr/ — this is
   the commit point;
3. the renames and removals are applied, then the journal is deleted.

A process killed before step 2 leaves only stray temporaries (git-ignored, removed by the
next refmgr command); killed after it, the next refmgr command finishes the change from
the journal. Readers therefore see either nothing new or every file of the change.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

from refmgr.errors import LockError, RefmgrError
from refmgr.fsutil import atomic_write, fsync_dir, write_temp
from refmgr.project import Project

JOURNAL = "journal.json"
LOCK = "lock"
LOCK_TIMEOUT_S = 60.0
TEMP_GLOB = ".*.tmp"


def _failpoint(name: str) -> None:
    # Crash-test hook: REFMGR_FAILPOINT=NAME makes the process SIGKILL itself here, so tests
    # can show that the next command finishes or discards the interrupted change.
    if os.environ.get("REFMGR_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _journal_path(project: Project) -> Path:
    return project.state_dir / JOURNAL


@contextlib.contextmanager
def locked(project: Project, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    import filelock

    project.ensure_state_dir()
    lock = filelock.FileLock(str(project.state_dir / LOCK), timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockError(
            f"another refmgr command has held the repository lock for over {timeout:g} s",
            project.state_dir / LOCK,
        ) from None
    try:
        yield
    finally:
        lock.release()


def recover_if_needed(project: Project) -> None:
    if _journal_path(project).exists() or _strays(project):
        with locked(project):
            recover(project)


def _strays(project: Project) -> list[Path]:
    """Temporaries of a change killed before its journal: in refs/, manifests/, and beside
    refmgr.toml (which a change rewrites when it records a pin)."""
    found: list[Path] = list(project.root.glob(f".{project.config_path.name}.*.tmp"))
    for directory in (project.refs_dir, project.manifests_dir):
        if directory.is_dir():
            found += directory.glob(TEMP_GLOB)
    return found


def recover(project: Project) -> None:
    """Finish an interrupted change and remove stray temporaries. Call with the lock held."""
    journal = _journal_path(project)
    if journal.exists():
        try:
            ops = json.loads(journal.read_text("utf-8"))["ops"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RefmgrError(
                f"unreadable journal of an interrupted change ({e}); inspect it, then delete it",
                journal,
            ) from None
        _apply(project, ops)
        journal.unlink()
        fsync_dir(project.state_dir)
    for stray in _strays(project):
        with contextlib.suppress(OSError):
            stray.unlink()


def _apply(project: Project, ops: list[dict[str, str]]) -> None:
    touched: set[Path] = set()
    for op in ops:
        if op["op"] == "rename":
            src, dst = project.root / op["src"], project.root / op["dst"]
            if src.exists():  # else: renamed before the interruption
                os.replace(src, dst)
                _failpoint("after-rename")
            touched.add(dst.parent)
        elif op["op"] == "unlink":
            target = project.root / op["path"]
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            touched.add(target.parent)
    for directory in touched:
        fsync_dir(directory)


def commit(
    project: Project,
    writes: Sequence[tuple[Path, bytes]] = (),
    removals: Sequence[Path] = (),
) -> None:
    """Write and remove files as one change. Call with the lock held (see ``locked``)."""
    recover(project)
    temps: list[tuple[Path, Path]] = []
    try:
        for target, data in writes:
            _failpoint("before-temp")
            tmp = write_temp(target.parent, data, prefix=f".{target.name}.")
            os.chmod(tmp, _file_mode())
            temps.append((tmp, target))
        _failpoint("before-journal")
        ops = [
            {"op": "rename", "src": project.relative(tmp), "dst": project.relative(target)}
            for tmp, target in temps
        ] + [{"op": "unlink", "path": project.relative(path)} for path in removals]
        atomic_write(_journal_path(project), json.dumps({"ops": ops}, indent=1).encode())
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    _failpoint("after-journal")
    _apply(project, ops)
    _failpoint("before-journal-delete")
    _journal_path(project).unlink()
    fsync_dir(project.state_dir)


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
