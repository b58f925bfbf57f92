"""What the validator reads: the voice repository's files in the working tree or in the git index.

``refmgr validate`` checks the working tree; ``refmgr validate --staged`` checks what is
about to be committed, which may differ (a file changed after ``git add``, a partner left
unstaged). Both are a Snapshot: a listing of files by path relative to the voice
repository's root, their kinds and sizes, and bounded reads. The checks never look past it.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Protocol

from refmgr import gitrepo

Kind = Literal["file", "symlink", "other"]
MAX_LINK_HOPS = 16
HEAD_LIMIT = 64 << 20


class TooLarge(Exception):
    """The file is over the size limit of a read; nothing of it was read."""

    def __init__(self, path: str, size: int) -> None:
        super().__init__(path, size)
        self.path = path
        self.size = size


class Snapshot(Protocol):
    root: Path
    label: str  # "working tree" or "index", for messages

    def files(self, directory: str) -> list[str]:
        """Every file or symlink under ``directory`` (recursively), sorted."""
        ...

    def kind(self, path: str) -> Kind | None:
        """What ``path`` is, without following a symlink at it; None when absent."""
        ...

    def resolve(self, path: str) -> str | None:
        """Where ``path`` leads once every symlink on the way is followed, relative to the
        root; None when that is outside the root or cannot be followed."""
        ...

    def size(self, path: str) -> int:
        """The size of what ``path`` leads to (after symlinks)."""
        ...

    def read(self, path: str, limit: int) -> bytes:
        """The bytes ``path`` leads to; raises TooLarge, before reading, past ``limit`` bytes."""
        ...

    def head(self, path: str, n: int) -> bytes:
        """The first ``n`` bytes of what ``path`` leads to (fewer if it is shorter)."""
        ...

    def prefetch(self, paths: Iterable[str], limit: int) -> None:
        """Get ready to read ``paths`` (files up to ``limit`` bytes) in as few steps as possible."""
        ...


class WorkTree:
    label = "working tree"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._top = str(root)  # os.path on strings: pathlib costs ~10 µs a join, 1,000s of times
        self._real_root = os.path.realpath(root)

    def files(self, directory: str) -> list[str]:
        found: list[str] = []
        top = self.root / directory
        if top.is_symlink() or not top.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(top):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            # os.walk lists symlinks to directories as directories and does not enter them
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            found += [f"{rel}/{name}" for name in (*filenames, *links)]
        return sorted(found)

    def kind(self, path: str) -> Kind | None:
        try:
            mode = os.lstat(os.path.join(self._top, path)).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(mode):
            return "symlink"
        return "file" if stat.S_ISREG(mode) else "other"

    def resolve(self, path: str) -> str | None:
        real = os.path.realpath(os.path.join(self._top, path))
        rel = os.path.relpath(real, self._real_root)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
            return None
        return Path(rel).as_posix()

    def size(self, path: str) -> int:
        return os.stat(os.path.join(self._top, path)).st_size

    def read(self, path: str, limit: int) -> bytes:
        # os-level calls: a third of the cost of open() for thousands of small files.
        fd = os.open(os.path.join(self._top, path), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size > limit:
                raise TooLarge(path, size)
            chunks, total = [], 0
            while chunk := os.read(fd, limit + 1 - total):  # never more than the limit
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:  # the file grew after fstat
                    raise TooLarge(path, total)
        finally:
            os.close(fd)
        return b"".join(chunks)

    def head(self, path: str, n: int) -> bytes:
        with open(os.path.join(self._top, path), "rb") as f:
            return f.read(n)

    def prefetch(self, paths: Iterable[str], limit: int) -> None:
        pass  # files are read one by one, as cheaply


class Index:
    """The git index (staging area) under the voice repository's root."""

    label = "index"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries = gitrepo.index_entries(root, ["."])
        self._sizes: dict[str, int] = {}
        self._blobs: dict[str, bytes] = {}

    def files(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(p for p in self.entries if p.startswith(prefix))

    def unmerged(self) -> list[str]:
        return sorted(p for p, e in self.entries.items() if e.stage != 0)

    def kind(self, path: str) -> Kind | None:
        entry = self.entries.get(path)
        if entry is None:
            return "symlink" if self._linked_parent(path) else None
        if entry.mode == "120000":
            return "symlink"
        return "file" if entry.mode in ("100644", "100755") else "other"

    def _linked_parent(self, path: str) -> bool:
        parts = path.split("/")
        return any(
            (e := self.entries.get("/".join(parts[:i]))) is not None and e.mode == "120000"
            for i in range(1, len(parts))
        )

    def resolve(self, path: str) -> str | None:
        # Symlinks in the index are blobs holding the target: follow them by path arithmetic.
        for _ in range(MAX_LINK_HOPS):
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                head = "/".join(parts[:i])
                entry = self.entries.get(head)
                if entry is not None and entry.mode == "120000":
                    target = self._blob(entry.oid, 4096).decode("utf-8", "surrogateescape")
                    if target.startswith("/"):
                        return None
                    joined = posixpath.join(posixpath.dirname(head), target, *parts[i:])
                    path = posixpath.normpath(joined)
                    if path == ".." or path.startswith("../"):
                        return None
                    break
            else:
                return path
        return None  # a symlink loop

    def _entry(self, path: str) -> gitrepo.IndexEntry:
        target = self.resolve(path)
        entry = self.entries.get(target) if target is not None else None
        if entry is None:
            raise FileNotFoundError(path)
        return entry

    def size(self, path: str) -> int:
        oid = self._entry(path).oid
        self._fetch_sizes([oid])
        return self._sizes[oid]

    def read(self, path: str, limit: int) -> bytes:
        oid = self._entry(path).oid
        size = self.size(path)
        if size > limit:
            raise TooLarge(path, size)
        return self._blob(oid, limit)

    def head(self, path: str, n: int) -> bytes:
        # git hands out whole blobs only: a blob over HEAD_LIMIT is judged by its name alone.
        try:
            return self.read(path, HEAD_LIMIT)[:n]
        except TooLarge:
            return b""

    def _blob(self, oid: str, limit: int) -> bytes:
        if oid not in self._blobs:
            self._fetch_blobs([oid], limit)
        return self._blobs.get(oid, b"")

    def _fetch_sizes(self, oids: Iterable[str]) -> None:
        missing = {o for o in oids if o not in self._sizes}
        if missing:
            self._sizes.update(gitrepo.object_sizes(self.root, missing))

    def _fetch_blobs(self, oids: Iterable[str], limit: int) -> None:
        wanted = {o for o in oids if o not in self._blobs}
        self._fetch_sizes(wanted)
        self._blobs.update(
            gitrepo.read_objects(self.root, [o for o in wanted if self._sizes.get(o, 0) <= limit])
        )

    def prefetch(self, paths: Iterable[str], limit: int) -> None:
        oids = []
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                oids.append(self._entry(path).oid)
        self._fetch_blobs(oids, limit)
