""".refmgr/cache/outputs: the outputs a render replaced or removed, by their sha256.

A render keeps only the current take of each line; ``render compare`` needs the audio an
earlier lock records. So before the runner replaces or removes an output it hands the file
to ``keep_replaced``, which copies it here as ``<sha256>.wav``. The folder is capped at ``[quality.drift] keep_outputs_mb``:
past it, the least recently used files go (reading one marks it used).

Local state, and untrusted like all of it (a clone, a copied checkout or another user can
put anything in .refmgr/): ``OutputArchive.read`` opens only regular files, never through a
symlink, up to a size bound, and hands back bytes only when their sha256 is the name asked
for. Keeping is best effort: a full disk or a folder that is not ours never fails a render.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from refmgr.errors import RefmgrError
from refmgr.project import Project, is_real_dir, write_dir
from refmgr.render.output import SUFFIX, facts_of

ARCHIVE_DIR = ("cache", "outputs")  # under .refmgr/
NAME = re.compile(r"[0-9a-f]{64}")
# The largest output kept or read back: a 2000-character line is a few minutes of audio
# (tens of MB at 48 kHz); anything past this is not an output refmgr wrote.
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
MB = 1_000_000


@dataclass(frozen=True)
class Found:
    """Bytes read from the archive whose sha256 is their name."""

    path: Path
    data: bytes


class OutputArchive:
    def __init__(self, project: Project) -> None:
        self.root = project.root
        self.directory = project.state_dir.joinpath(*ARCHIVE_DIR)
        self.cap_bytes = project.config.quality.drift.keep_outputs_mb * MB

    def keep(self, path: Path) -> None:
        """Keep the output file at ``path`` (about to be replaced or removed), if it is one."""
        if self.cap_bytes <= 0:
            return
        data = read_output(path)
        if data is None or facts_of(data) is None:
            return  # not there, or not a whole refmgr output: nothing anyone will ask for
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            directory = write_dir(self.root, self.directory)
        except RefmgrError:
            return  # a symlink or a file where our folder should be: keep nothing
        target = directory / f"{sha256}{SUFFIX}"
        if _regular(target) is not None:
            _touch(target)  # already kept: now the most recently used
            return
        # A copy of the bytes read, not a hard link: an inode shared with an output would
        # let a write to either change both.
        temp = directory / f".{sha256}.{os.getpid()}.tmp"
        try:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()  # left by a process of this pid killed midway
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, target)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()
            return
        self.evict()

    def evict(self) -> None:
        """Remove the least recently used files until the folder is within its cap."""
        files: list[tuple[int, int, str]] = []  # mtime, size, name
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if not NAME.fullmatch(entry.name.removesuffix(SUFFIX)):
                        continue
                    with contextlib.suppress(OSError):
                        info = entry.stat(follow_symlinks=False)
                        files.append((info.st_mtime_ns, info.st_size, entry.name))
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        for _, size, name in sorted(files):
            if total <= self.cap_bytes:
                break
            with contextlib.suppress(OSError):
                os.unlink(self.directory / name)
                total -= size

    def read(self, sha256: str) -> Found | str:
        """The kept output with this sha256, or why there is none (one phrase)."""
        if not NAME.fullmatch(sha256):
            return "not a sha256"
        if not is_real_dir(self.root, self.directory):
            return f"not in {self.where()}"
        path = self.directory / f"{sha256}{SUFFIX}"
        data = read_output(path)
        if data is None:
            return f"not in {self.where()}"
        if hashlib.sha256(data).hexdigest() != sha256:
            return f"{self.where()}/{path.name} does not hold the audio its name says (ignored)"
        _touch(path)
        return Found(path, data)

    def where(self) -> str:
        return self.directory.relative_to(self.root).as_posix()


def keep_replaced(project: Project, path: Path) -> None:
    """The runner's hook: ``path``, an output about to be replaced or removed, is kept."""
    OutputArchive(project).keep(path)


def _regular(path: Path) -> os.stat_result | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def read_output(path: Path) -> bytes | None:
    """The bytes of the regular file at ``path`` (never through a symlink), bounded; None
    if it is missing, something else, or too large."""
    try:
        fd = os.open(
            path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        )
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_OUTPUT_BYTES:
            return None
        try:
            data = f.read(MAX_OUTPUT_BYTES + 1)
        except OSError:
            return None
    return data if len(data) <= MAX_OUTPUT_BYTES else None


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path, follow_symlinks=False)
