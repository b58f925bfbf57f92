"""The few git operations refmgr needs, through GitPython (imported only when used)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refmgr.errors import GitError


def _repo(path: Path) -> Any:
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def is_git_repo(path: Path) -> bool:
    return _repo(path) is not None


def init(path: Path) -> None:
    import git

    try:
        git.Repo.init(path)
    except git.GitCommandError as e:
        raise GitError(f"git init failed: {e.stderr.strip()}", path) from None


def stage(root: Path, paths: Sequence[Path]) -> None:
    """Stage the current state of ``paths`` (new, changed or deleted) in the index."""
    import git

    repo = _repo(root)
    if repo is None:
        raise GitError("not a git repository: --stage needs one (run git init)", root)
    tracked = set(repo.git.ls_files("--", *[str(p) for p in paths]).splitlines())
    top = Path(repo.working_tree_dir)
    wanted = [p for p in paths if p.exists() or p.resolve().relative_to(top).as_posix() in tracked]
    if not wanted:
        return
    try:
        repo.git.add("--all", "--", *[str(p) for p in wanted])
    except git.GitCommandError as e:
        raise GitError(f"git add failed: {e.stderr.strip()}", root) from None


# The two queries below run on every render, before anything else can start: they call
# git directly, because importing GitPython costs more (~40 ms) than they do.
def _git(cwd: Path, *args: str) -> str | None:
    """stdout of ``git ARGS`` in ``cwd``; None if git fails (not a repository, no commit)."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError:  # no git installed
        return None
    return proc.stdout.decode("utf-8", errors="surrogateescape") if proc.returncode == 0 else None


def _top_and_relative(root: Path, paths: Sequence[Path]) -> tuple[Path, list[str]] | None:
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    top_dir = Path(top.strip()).resolve()
    return top_dir, [p.resolve().relative_to(top_dir).as_posix() for p in paths]


def uncommitted(root: Path, paths: Sequence[Path]) -> list[Path]:
    """Those of ``paths`` whose committed state is not what is on disk: untracked, ignored,
    missing from HEAD, or changed (staged or not). Raises GitError outside a git repository."""
    found = _top_and_relative(root, paths)
    if found is None:
        raise GitError("not a git repository", root)
    top, rel = found
    if not paths:
        return []
    committed = set(
        (_git(top, "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *rel) or "").split("\0")
    )
    status = _git(
        top, "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all", "--", *rel
    )
    changed = {entry[3:] for entry in (status or "").split("\0") if len(entry) > 3}
    return [p for p, r in zip(paths, rel, strict=True) if r not in committed or r in changed]


def last_commit(root: Path, paths: Sequence[Path]) -> str | None:
    """The newest commit that changed any of ``paths``; None outside git or before any commit."""
    found = _top_and_relative(root, paths)
    if found is None or not paths:
        return None
    top, rel = found
    return (_git(top, "log", "-1", "--format=%H", "--", *rel) or "").strip() or None
