"""The voice repository: where it is, what its config says, and where things live in it.

Opening a project only reads. Commands that write take the repository lock and finish an
interrupted change first (``store.open_for_writing``); every directory they write or delete
in is checked with ``Project.write_dir`` first, because a clone decides what is a symlink.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from refmgr.config import CONFIG_FILE, Config, load_config
from refmgr.errors import ProjectNotFoundError, RefmgrError, display_path

STATE_DIR = ".refmgr"  # local, git-ignored: lock, journal, caches
LISTEN_DIR = "listen"  # git-ignored: what decode and say write when no -o is given
STATE_GITIGNORE = "# refmgr's local state; never committed\n*\n"


@dataclass(frozen=True)
class Project:
    root: Path
    config: Config

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def refs_dir(self) -> Path:
        return self.root / self.config.paths.refs

    @property
    def manifests_dir(self) -> Path:
        return self.root / self.config.paths.manifests

    @property
    def renders_dir(self) -> Path:
        return self.root / self.config.paths.renders

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def ensure_state_dir(self) -> Path:
        """.refmgr/, created self-ignoring (like .pytest_cache) so that git never sees it,
        whoever creates it first: init, or any command in a fresh clone."""
        return ensure_state_dir(self.root)

    def write_dir(self, directory: Path) -> Path:
        """``directory`` (inside the repository), made if missing, once it is certain that
        writing or deleting in it stays inside the repository; see ``write_dir``."""
        return write_dir(self.root, directory)

    def manifest_path(self, name: str) -> Path:
        return self.manifests_dir / f"{name}.json"

    def tokens_path(self, name: str) -> Path:
        return self.refs_dir / f"{name}.npy"

    def tokens_relpath(self, name: str) -> str:
        """The token path as manifests record it: relative to the root, '/'-separated."""
        return f"{self.config.paths.refs}/{name}.npy"

    def listen_path(self, file_name: str) -> Path:
        """Where ``decode`` and ``say`` write without -o: listen/ (git-ignored by init)."""
        return self.write_dir(self.root / LISTEN_DIR) / file_name

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def find_root(start: Path) -> Path:
    here = start.resolve()
    for directory in (here, *here.parents):
        if (directory / CONFIG_FILE).is_file():
            return directory
    raise ProjectNotFoundError(
        f"not inside a refmgr voice repository (no {CONFIG_FILE} in {here} or any parent "
        "directory); create one with: refmgr init"
    )


def repo_relative(path: str | os.PathLike[str]) -> str:
    """A path for JSON output: relative to the voice repository's root when inside it
    (the same whatever directory refmgr ran from), else as the user would read it."""
    absolute = Path(os.path.abspath(path))
    try:
        root = find_root(Path.cwd())
    except (ProjectNotFoundError, OSError):
        return display_path(path)
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return display_path(path)


def open_project(start: Path | None = None) -> Project:
    """Find and load the voice repository around ``start``. Reads only."""
    root = find_root(start if start is not None else Path(os.getcwd()))
    return Project(root=root, config=load_config(root / CONFIG_FILE))


def ensure_state_dir(root: Path) -> Path:
    state = write_dir(root, root / STATE_DIR)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text(STATE_GITIGNORE)
    return state


def is_real_dir(root: Path, directory: Path) -> bool:
    """``directory`` is inside ``root`` and it and every directory between them is a real
    directory, no symlink: what ``write_dir`` makes sure of, asked without creating."""
    try:
        parts = directory.relative_to(root).parts
    except ValueError:
        return False
    here = root
    for part in parts:
        here = here / part
        try:
            if not stat.S_ISDIR(os.lstat(here).st_mode):
                return False
        except OSError:
            return False
    return True


def write_dir(root: Path, directory: Path) -> Path:
    """Make sure that what refmgr writes into or deletes from ``directory`` stays inside the
    repository at ``root``, creating the missing parts of ``directory``.

    Every part of the path below ``root`` must be a real directory: a symlink there (which
    a clone can bring) could lead anywhere, so it is refused, and so is a path into .git.
    """
    try:
        parts = directory.relative_to(root).parts
    except ValueError:
        raise RefmgrError("refmgr writes only inside the voice repository", directory) from None
    if ".git" in (part.lower() for part in parts):
        raise RefmgrError("refmgr never writes inside .git", directory)
    here = root
    for part in parts:
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            try:
                here.mkdir()
            except FileExistsError:  # made meanwhile by another refmgr: check it as found
                mode = os.lstat(here).st_mode
            except OSError as e:
                raise RefmgrError(f"cannot create directory: {e.strerror}", here) from None
            else:
                continue
        except OSError as e:
            raise RefmgrError(f"cannot read: {e.strerror}", here) from None
        if stat.S_ISLNK(mode):
            raise RefmgrError(
                "is a symlink; refmgr writes only into real directories inside the repository",
                here,
            )
        if not stat.S_ISDIR(mode):
            raise RefmgrError("is not a directory", here)
    return directory
