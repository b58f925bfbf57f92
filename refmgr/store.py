"""Changing the repository's reference files all-or-nothing, under one lock.

A change (some files written, some removed) is committed like this:
1. each new file is written to a temporary file beside its target and fsynced;
2. a journal naming every rename and removal is written atomically to .refmgr/ — this is
   the commit point;
3. the renames and removals are applied, then the journal is deleted.

A process killed before step 2 leaves only stray temporaries (git-ignored, removed by the
next writing command); killed after it, the next writing command finishes the change from
the journal (``open_for_writing``). Readers therefore see either nothing new or every file
of the change once it is finished.

A journal is a list of file operations, so one that came from anywhere but this user's own
refmgr would be a way to delete or replace any file. It is therefore signed with a key
that never leaves this user's state directory, bound to the repository's location, and
every path in it is checked again before anything is touched: a plain file directly in
refs/ or manifests/ (or refmgr.toml itself), no symlink on the way. A journal that fails
any of this is reported and never applied.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from refmgr.errors import RefmgrError
from refmgr.filelocks import failpoint, held
from refmgr.fsutil import atomic_write, fsync_dir, write_temp
from refmgr.paths import user_state_dir
from refmgr.project import STATE_DIR, Project, is_real_dir, open_project

JOURNAL = "journal.json"
LOCK = "lock"
LOCK_TIMEOUT_S = 60.0
TEMP_GLOB = ".*.tmp"
JOURNAL_MAX_BYTES = 1 << 20
KEY_FILE = "journal.key"
# tempfile.mkstemp's names: PREFIX + 8 characters of [a-z0-9_] + ".tmp"
TEMP_NAME = r"\.{name}\.[a-z0-9_]{{8}}\.tmp"
RECOVER_HINT = "an interrupted refmgr change is pending: run refmgr recover to finish it"


class JournalError(RefmgrError):
    """A journal refmgr did not write here, or one that names a path it must not touch."""


def open_for_writing(start: Path | None = None) -> Project:
    """The project around ``start``, with any interrupted change finished: for the commands
    that write (add, rm, pin, model pin, render, say, decode, recover), and only them."""
    project = open_project(start)
    recover_if_needed(project)
    return project


@contextlib.contextmanager
def locked(project: Project, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    state = project.ensure_state_dir()
    with held(
        state / LOCK,
        timeout=timeout,
        busy=f"another refmgr command has held the repository lock for over {timeout:g} s",
    ):
        yield


def pending(project: Project) -> bool:
    """Whether an interrupted change waits in the journal (without following symlinks)."""
    return os.path.lexists(project.state_dir / JOURNAL)


def recover_if_needed(project: Project) -> None:
    if pending(project) or _strays(project):
        with locked(project):
            recover(project)


def _strays(project: Project) -> list[Path]:
    """Temporaries of a change killed before its journal: in refs/, manifests/, beside
    refmgr.toml (which a change rewrites when it records a pin), and of the journal itself.
    Only real directories are searched: through a symlink they could be anyone's files."""
    found: list[Path] = []
    for directory, pattern in (
        (project.root, f".{project.config_path.name}.*.tmp"),
        (project.refs_dir, TEMP_GLOB),
        (project.manifests_dir, TEMP_GLOB),
        (project.state_dir, f".{JOURNAL}.*.tmp"),  # not the render's: it may be running
    ):
        if is_real_dir(project.root, directory):
            found += directory.glob(pattern)
    return [path for path in found if _is_file(path)]


def recover(project: Project) -> None:
    """Finish an interrupted change and remove stray temporaries. Call with the lock held."""
    journal = project.state_dir / JOURNAL
    if os.path.lexists(journal):
        ops = _read_journal(project, journal)
        _apply(project, ops)
        journal.unlink()
        fsync_dir(project.state_dir)
    for stray in _strays(project):
        with contextlib.suppress(OSError):
            stray.unlink()


def _read_journal(project: Project, journal: Path) -> list[dict[str, str]]:
    def refuse(problem: str) -> JournalError:
        return JournalError(
            f"{problem}; it was not applied. If refmgr was not interrupted here, delete it "
            f"(rm {STATE_DIR}/{JOURNAL}, or git rm --cached it if git tracks it)",
            journal,
        )

    info = os.lstat(journal)
    if not stat.S_ISREG(info.st_mode) or not is_real_dir(project.root, project.state_dir):
        raise refuse(f"the journal or {STATE_DIR}/ is a symlink or not a regular file")
    if info.st_size > JOURNAL_MAX_BYTES:
        raise refuse(f"journal of {info.st_size} bytes, over {JOURNAL_MAX_BYTES}")
    try:
        document = json.loads(journal.read_bytes())
        ops, mac = document["ops"], document.get("mac")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise refuse(f"unreadable journal of an interrupted change ({type(e).__name__})") from None
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _sign(project, ops)):
        raise refuse(
            "a journal that refmgr did not write for this repository on this machine "
            "(it may have come with a clone)"
        )
    for op in ops:
        problem = _op_problem(project, op)
        if problem is not None:
            raise refuse(f"journal names {problem}")
    return list(ops)


def _op_problem(project: Project, op: Any) -> str | None:
    """Why ``op`` must not be applied, or None. Only what ``commit`` writes passes."""
    if not isinstance(op, dict) or not all(isinstance(v, str) for v in op.values()):
        return f"an operation that is not an object of strings: {op!r:.80}"
    if op.get("op") == "rename" and op.keys() == {"op", "src", "dst"}:
        target = _target_problem(project, op["dst"])
        if target is not None:
            return target
        dst = PurePosixPath(op["dst"])
        src = PurePosixPath(op["src"])
        name = TEMP_NAME.format(name=re.escape(dst.name))
        if src.parent != dst.parent or not re.fullmatch(name, src.name):
            return f"a rename from {op['src']!r:.80}, which is not a temporary beside its target"
        return None
    if op.get("op") == "unlink" and op.keys() == {"op", "path"}:
        return _target_problem(project, op["path"])
    return f"an unknown operation {op!r:.80}"


def _target_problem(project: Project, raw: str) -> str | None:
    """Why ``raw`` is not a path a change may replace or remove, or None: a .npy directly in
    refs/, a .json directly in manifests/, or refmgr.toml; no symlink on the way."""
    path = PurePosixPath(raw)
    paths = project.config.paths
    allowed = (
        (path.parent.as_posix() == paths.refs and path.suffix == ".npy")
        or (path.parent.as_posix() == paths.manifests and path.suffix == ".json")
        or raw == project.config_path.name
    )
    if not allowed or raw != path.as_posix() or path.name.startswith("."):
        return f"the path {raw!r:.80}, outside what a change of references may touch"
    if not is_real_dir(project.root, project.root / path.parent):
        return f"the path {raw!r:.80}, behind a symlink or a missing directory"
    full = project.root / path
    if os.path.lexists(full) and not _is_file(full):
        return f"the path {raw!r:.80}, which is not a regular file"
    return None


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _sign(project: Project, ops: Any) -> str:
    message = json.dumps({"root": str(project.root), "ops": ops}, sort_keys=True).encode()
    return hmac.new(_journal_key(), message, hashlib.sha256).hexdigest()


def _journal_key() -> bytes:
    """This user's secret for signing journals, made on first use (mode 0600)."""
    path = user_state_dir() / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    except OSError as e:
        raise RefmgrError(f"cannot read refmgr's journal key: {e.strerror}", path) from None
    if len(key) == 32:
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, secrets.token_bytes(32), mode=0o600)
        return path.read_bytes()  # another process may have written its key first: use that
    except OSError as e:
        raise RefmgrError(f"cannot create refmgr's journal key: {e.strerror}", path) from None


def _apply(project: Project, ops: list[dict[str, str]]) -> None:
    touched: set[Path] = set()
    for op in ops:
        if op["op"] == "rename":
            src, dst = project.root / op["src"], project.root / op["dst"]
            if os.path.lexists(src):  # else: renamed before the interruption
                os.replace(src, dst)
                failpoint("after-rename")
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
    for target in [path for path, _ in writes] + list(removals):
        project.write_dir(target.parent)
    temps: list[tuple[Path, Path]] = []
    try:
        for target, data in writes:
            failpoint("before-temp")
            tmp = write_temp(target.parent, data, prefix=f".{target.name}.")
            os.chmod(tmp, _file_mode())
            temps.append((tmp, target))
        failpoint("before-journal")
        ops = [
            {"op": "rename", "src": project.relative(tmp), "dst": project.relative(target)}
            for tmp, target in temps
        ] + [{"op": "unlink", "path": project.relative(path)} for path in removals]
        for op in ops:  # commit is only ever given reference files: anything else is a bug
            assert _op_problem(project, op) is None, _op_problem(project, op)
        journal = {"ops": ops, "mac": _sign(project, ops)}
        atomic_write(project.state_dir / JOURNAL, json.dumps(journal, indent=1).encode())
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    failpoint("after-journal")
    _apply(project, ops)
    failpoint("before-journal-delete")
    (project.state_dir / JOURNAL).unlink()
    fsync_dir(project.state_dir)


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
