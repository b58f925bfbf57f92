"""The few git operations refmgr needs, through GitPython (imported only when used)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


# Plumbing below runs git directly, without GitPython: the commit hook must stay light
# (GitPython costs ~0.1 s to import) and these calls are one process for any number of files.


def _run_git(root: Path, *args: str, stdin: bytes | None = None) -> bytes:
    import subprocess

    try:
        # Paths come from the repository (its config, its file names): a pathspec such as
        # ':(exclude)x' must match that file name, never act as pathspec magic. Every path
        # also follows a '--', so none is read as an option.
        proc = subprocess.run(
            ["git", "--literal-pathspecs", *args],
            cwd=root,
            input=stdin,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)", root) from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(
            f"git {args[0]} failed: {detail[-1] if detail else f'exit {proc.returncode}'}", root
        )
    return proc.stdout


@dataclass(frozen=True)
class IndexEntry:
    mode: str  # "100644", "100755", "120000" (symlink), "160000" (submodule)
    oid: str
    stage: int  # 0, or 1-3 for the sides of an unresolved merge conflict


def index_entries(root: Path, pathspecs: Sequence[str]) -> dict[str, IndexEntry]:
    """The index entries under ``pathspecs``, by path relative to ``root`` ('/'-separated)."""
    out = _run_git(root, "ls-files", "--stage", "-z", "--", *pathspecs)
    entries: dict[str, IndexEntry] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, oid, stage = meta.decode().split()
        path = raw_path.decode("utf-8", "surrogateescape")
        entry = IndexEntry(mode, oid, int(stage))
        if path not in entries or entry.stage < entries[path].stage:
            entries[path] = entry
    return entries


def object_sizes(root: Path, oids: Iterable[str]) -> dict[str, int]:
    """Blob sizes, without reading the blobs (one git cat-file --batch-check)."""
    wanted = sorted(set(oids))
    if not wanted:
        return {}
    out = _run_git(
        root, "cat-file", "--batch-check", stdin="".join(o + "\n" for o in wanted).encode()
    )
    sizes: dict[str, int] = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 3:
            sizes[parts[0]] = int(parts[2])
    return sizes


def read_objects(root: Path, oids: Iterable[str]) -> dict[str, bytes]:
    """The contents of blobs (one git cat-file --batch). Check their sizes first."""
    wanted = sorted(set(oids))
    if not wanted:
        return {}
    out = _run_git(root, "cat-file", "--batch", stdin="".join(o + "\n" for o in wanted).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        parts = out[pos:end].split()
        pos = end + 1
        if len(parts) != 3:  # "<oid> missing"
            continue
        size = int(parts[2])
        blobs[parts[0].decode()] = out[pos : pos + size]
        pos += size + 1  # the content is followed by a newline
    return blobs


def staged_paths(root: Path) -> list[str]:
    """Paths under ``root`` added, copied, modified or renamed in the index since HEAD."""
    out = _run_git(
        root,
        "diff",
        "--cached",
        "--name-only",
        "--relative",
        "-z",
        "--no-renames",
        "--diff-filter=ACMRT",
    )
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def status_codes(root: Path, pathspecs: Sequence[str]) -> dict[str, str]:
    """``git status`` two-letter codes (XY: index, work tree; '??' untracked) by path under root."""
    out = _run_git(
        root,
        "status",
        "--porcelain=v1",
        "-z",
        "--no-renames",
        "--untracked-files=all",
        "--",
        *pathspecs,
    )
    prefix = _run_git(root, "rev-parse", "--show-prefix").decode().strip()
    codes: dict[str, str] = {}
    for record in out.split(b"\0"):
        if len(record) < 4:
            continue
        path = record[3:].decode("utf-8", "surrogateescape")
        # porcelain paths are relative to the top level: make them relative to root
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :]
        codes[path] = record[:2].decode()
    return codes


def git_path(root: Path, name: str) -> Path:
    """Where git keeps ``name`` (e.g. 'hooks'), honouring core.hooksPath and worktrees."""
    out = _run_git(root, "rev-parse", "--git-path", name).decode().strip()
    return (root / out).resolve()


def show_prefix(root: Path) -> str:
    """``root`` relative to the top of its git work tree ('' at the top, else 'dir/')."""
    return _run_git(root, "rev-parse", "--show-prefix").decode().strip()


def ignored(root: Path, paths: Sequence[str]) -> dict[str, str]:
    """Which of ``paths`` (relative to ``root``, existing or not) git ignores, each with the
    rule that does it ('.gitignore:3: /build/'). Tracked files are never ignored; {} outside
    a git repository or without git."""
    import subprocess

    if not paths:
        return {}
    try:
        proc = subprocess.run(
            ["git", "check-ignore", "--verbose", "--stdin", "-z"],
            cwd=root,
            input=b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths),
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        return {}
    if proc.returncode != 0:  # 1: nothing ignored; 128: not a git repository
        return {}
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    found: dict[str, str] = {}
    # Records of four fields: source, line number, pattern, path.
    for source, line, pattern, path in zip(*[iter(fields)] * 4, strict=False):
        if not pattern.startswith("!"):  # a negated pattern that matches un-ignores
            found[path] = f"{source}:{line}: {pattern}"
    return found


def toplevel(root: Path) -> Path:
    return Path(_run_git(root, "rev-parse", "--show-toplevel").decode().strip())


def get_config(root: Path, key: str) -> str | None:
    import subprocess

    proc = subprocess.run(
        ["git", "config", "--local", "--get", key], cwd=root, capture_output=True, check=False
    )
    return proc.stdout.decode().rstrip("\n") if proc.returncode == 0 else None


def set_config(root: Path, key: str, value: str) -> None:
    _run_git(root, "config", "--local", key, value)


@dataclass(frozen=True)
class CommitState:
    uncommitted: list[Path]  # files whose committed state is not what is on disk
    last_commits: dict[str, str | None]  # per group: the newest commit that changed its files


def commit_state(root: Path, groups: Mapping[str, Sequence[Path]]) -> CommitState:
    """Which of the (existing) files of ``groups`` are not committed as they are on disk
    (untracked, ignored, staged or changed), and the newest commit that changed each
    group: what a render records, in three git calls whatever the number of groups.
    Raises GitError outside a git repository."""
    try:
        top = toplevel(root).resolve()
    except GitError:
        raise GitError("not a git repository", root) from None
    paths = [p for group in groups.values() for p in group]
    if not paths:
        return CommitState([], {})
    where = {p: p.resolve().relative_to(top).as_posix() for p in paths}
    rel = list(where.values())
    status = _run_git(
        top, "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all", "--", *rel
    ).decode("utf-8", "surrogateescape")
    changed = {entry[3:] for entry in status.split("\0") if len(entry) > 3}
    try:
        log = _run_git(top, "log", "--format=%x01%H", "--name-only", "-z", "--", *rel)
    except GitError:
        log = b""  # no commit yet
    last: dict[str, str | None] = dict.fromkeys(groups)
    # Newest first: each commit, then the files it changed (NUL-separated with -z).
    for record in log.decode("utf-8", "surrogateescape").split("\x01")[1:]:
        commit, _, names = record.partition("\0")
        touched = set(names.lstrip("\n").split("\0"))
        for name, group in groups.items():
            if last[name] is None and touched.intersection(where[p] for p in group):
                last[name] = commit
    return CommitState([p for p in paths if where[p] in changed], last)


def commit_of(root: Path, revision: str) -> str:
    """The commit id ``revision`` (a branch, tag, HEAD~1, a sha) names; GitError if none."""
    if not revision or revision.startswith("-") or any(c in revision for c in "\0\n"):
        raise GitError(f"not a git revision: {revision!r}", root)
    try:
        out = _run_git(
            root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"
        )
    except GitError:
        raise GitError(f"no commit '{revision}' in this git repository", root) from None
    return out.decode().strip()


def file_at(root: Path, commit: str, path: str, max_bytes: int) -> bytes | None:
    """The content of ``path`` (relative to ``root``, '/'-separated) as committed in
    ``commit``; None if it is not there. Its size is checked before it is read."""
    spec = f"{commit}:./{path}"  # ./: relative to root, which may sit below the top level
    out = _git_or_none(root, "cat-file", "-t", spec)
    if out is None:
        return None
    if out.strip() != b"blob":
        raise GitError(f"{path} in {commit[:12]} is not a file", root)
    size = int(_run_git(root, "cat-file", "-s", spec).decode().strip())
    if size > max_bytes:
        raise GitError(
            f"{path} in {commit[:12]} is over the limit of {max_bytes} bytes ({size} bytes)", root
        )
    return _run_git(root, "cat-file", "blob", spec)


def _git_or_none(root: Path, *args: str) -> bytes | None:
    """stdout of ``git ARGS``, or None if it fails (a question git answers with its status)."""
    try:
        return _run_git(root, *args)
    except GitError:
        return None


def is_tracked(root: Path, path: Path) -> bool:
    """Whether ``path`` is in the index (committed or staged)."""
    top = toplevel(root).resolve()
    rel = path.resolve().relative_to(top).as_posix()
    return bool(_run_git(top, "ls-files", "-z", "--", rel))
