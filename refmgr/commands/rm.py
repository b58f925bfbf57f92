"""refmgr rm: remove references (manifest and token file together)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from refmgr import gitrepo
from refmgr.errors import RefError
from refmgr.project import Project
from refmgr.reference import known_names, require_valid_name
from refmgr.store import commit, locked


def remove_references(project: Project, names: Sequence[str], *, stage: bool = False) -> list[str]:
    """Remove every named reference as one change; returns the paths removed."""
    names = [name.lower() for name in names]  # as scripts and load_reference take them
    for name in names:
        require_valid_name(name)
    removals: list[Path] = []
    with locked(project):
        for name in dict.fromkeys(names):
            paths = [project.manifest_path(name), project.tokens_path(name)]
            present = [p for p in paths if p.exists() or p.is_symlink()]
            if not present:
                known = ", ".join(known_names(project)) or "none"
                raise RefError(f"no reference '{name}' (known: {known})")
            removals += present
        commit(project, removals=removals)
    if stage:
        gitrepo.stage(project.root, removals)
    return [project.relative(p) for p in removals]


def removed_json(removed: Sequence[str]) -> dict[str, Any]:
    """``rm --json``: the paths ``remove_references`` returned."""
    return {"removed": list(removed)}
