"""refmgr render compare: the drift report of a script's lock against an earlier one."""

from __future__ import annotations

from pathlib import Path

from refmgr.deliver.compare import DriftReport, compare_sides, read_side
from refmgr.errors import UsageError
from refmgr.project import Project
from refmgr.render.script import script_name


def compare_renders(
    project: Project,
    script_path: Path,
    old: str,
    new: str | None = None,
    *,
    old_audio: Path | None = None,
) -> DriftReport:
    """How the lines of SCRIPT moved from lock ``old`` to lock ``new`` (None: the lock on
    disk); each a lock file, REV or REV:PATH. Reads only."""
    if old_audio is not None and not old_audio.is_dir():
        raise UsageError("--old-audio must be a folder of the old outputs", old_audio)
    name = script_name(script_path)
    return compare_sides(
        project,
        name,
        read_side(project, name, old),
        read_side(project, name, new),
        old_audio=old_audio,
    )
