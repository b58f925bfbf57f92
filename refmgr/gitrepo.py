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
