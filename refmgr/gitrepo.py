"""The few git operations refmgr needs, through GitPython (imported only when used)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


# The query below runs on every render, before anything else can start: it calls git
# directly, because importing GitPython costs more (~40 ms) than it does.
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


@dataclass(frozen=True)
class CommitState:
    uncommitted: list[Path]  # files whose committed state is not what is on disk
    last_commits: dict[str, str | None]  # per group: the newest commit that changed its files


def commit_state(root: Path, groups: Mapping[str, Sequence[Path]]) -> CommitState:
    """Which of the (existing) files of ``groups`` are not committed as they are on disk
    (untracked, ignored, staged or changed), and the newest commit that changed each
    group. Three git calls whatever the number of groups. Raises GitError outside git."""
    paths = [p for group in groups.values() for p in group]
    found = _top_and_relative(root, paths)
    if found is None:
        raise GitError("not a git repository", root)
    top, rel = found
    if not paths:
        return CommitState([], {})
    status = _git(
        top, "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all", "--", *rel
    )
    changed = {entry[3:] for entry in (status or "").split("\0") if len(entry) > 3}
    where = dict(zip(paths, rel, strict=True))
    last: dict[str, str | None] = dict.fromkeys(groups)
    # Newest first: each commit, then the files it changed (NUL-separated with -z).
    log = _git(top, "log", "--format=%x01%H", "--name-only", "-z", "--", *rel) or ""
    for record in log.split("\x01")[1:]:
        commit, _, names = record.partition("\0")
        touched = set(names.lstrip("\n").split("\0"))
        for name, group in groups.items():
            if last[name] is None and touched.intersection(where[p] for p in group):
                last[name] = commit
    return CommitState([p for p in paths if where[p] in changed], last)
