"""The few git operations refmgr needs, through GitPython (imported only when used)."""

from __future__ import annotations

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


def _relative_to_top(repo: Any, paths: Sequence[Path]) -> list[str]:
    top = Path(repo.working_tree_dir).resolve()
    return [p.resolve().relative_to(top).as_posix() for p in paths]


def uncommitted(root: Path, paths: Sequence[Path]) -> list[Path]:
    """Those of ``paths`` whose committed state is not what is on disk: untracked, ignored,
    missing from HEAD, or changed (staged or not). Raises GitError outside a git repository."""
    import git

    repo = _repo(root)
    if repo is None:
        raise GitError("not a git repository", root)
    if not paths:
        return []
    rel = _relative_to_top(repo, paths)
    try:
        committed = set(repo.git.ls_tree("-r", "--name-only", "HEAD", "--", *rel).splitlines())
    except git.GitCommandError:  # no commit yet
        committed = set()
    status = repo.git.status(
        "--porcelain=v1", "-z", "--ignored", "--untracked-files=all", "--", *rel
    )
    changed = {entry[3:] for entry in status.split("\0") if len(entry) > 3}
    return [p for p, r in zip(paths, rel, strict=True) if r not in committed or r in changed]


def last_commit(root: Path, paths: Sequence[Path]) -> str | None:
    """The newest commit that changed any of ``paths``; None outside git or before any commit."""
    import git

    repo = _repo(root)
    if repo is None or not paths:
        return None
    try:
        found = repo.git.log("-1", "--format=%H", "--", *_relative_to_top(repo, paths))
    except git.GitCommandError:
        return None
    return str(found).strip() or None
