"""The voice repository: where it is, what its config says, and where things live in it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from refmgr.config import CONFIG_FILE, Config, load_config
from refmgr.errors import ProjectNotFoundError

STATE_DIR = ".refmgr"  # local, git-ignored: lock, journal, caches
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

    def manifest_path(self, name: str) -> Path:
        return self.manifests_dir / f"{name}.json"

    def tokens_path(self, name: str) -> Path:
        return self.refs_dir / f"{name}.npy"

    def tokens_relpath(self, name: str) -> str:
        """The token path as manifests record it: relative to the root, '/'-separated."""
        return f"{self.config.paths.refs}/{name}.npy"

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


def open_project(start: Path | None = None, *, recover: bool = True) -> Project:
    """Find and load the voice repository around ``start``; finish any interrupted write."""
    root = find_root(start if start is not None else Path(os.getcwd()))
    project = Project(root=root, config=load_config(root / CONFIG_FILE))
    if recover:
        from refmgr.store import recover_if_needed

        recover_if_needed(project)
    return project


def ensure_state_dir(root: Path) -> Path:
    state = root / STATE_DIR
    ignore = state / ".gitignore"
    if not ignore.exists():
        state.mkdir(exist_ok=True)
        ignore.write_text(STATE_GITIGNORE)
    return state
