"""refmgr no-raw-audio: the commit hook that keeps recordings out of the repository.

Recordings (by extension or by their first bytes) are refused everywhere in the voice
repository except the globs in refmgr.toml's ``[hooks] allow_audio``, and files under refs/
over ``limits.max_token_bytes`` are refused, whatever they are. Files outside the voice
repository (pre-commit passes every staged file of a monorepo) are not its business: its
allow_audio could not allow them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr import gitrepo
from refmgr.config import Config
from refmgr.errors import ProjectNotFoundError, UsageError
from refmgr.findings import Finding
from refmgr.project import find_root
from refmgr.rawaudio import HEAD_BYTES, allowed, recording_kind
from refmgr.snapshot import Index, Snapshot, WorkTree
from refmgr.validate import Report, snapshot_config


@dataclass(frozen=True)
class AudioCheck:
    root: Path
    checked: int
    findings: list[Finding]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.findings,
            "checked": self.checked,
            "findings": [f.to_json() for f in self.findings],
        }


def check_no_raw_audio(
    start: Path | None = None, *, paths: Sequence[Path] = (), staged: bool = False
) -> AudioCheck:
    here = start if start is not None else Path(os.getcwd())
    try:
        root = find_root(here)
    except ProjectNotFoundError:
        root = here.resolve()  # not a voice repository: the defaults still keep audio out
    snapshot: Snapshot = Index(root) if staged else WorkTree(root)
    report = Report()
    config = Config()
    if snapshot.kind("refmgr.toml") is not None:
        config = snapshot_config(snapshot, report) or config
    if staged:
        files = gitrepo.staged_paths(root)
        if paths:
            wanted = {_relative(root, p) for p in paths}
            files = [f for f in files if f in wanted]
    elif paths:
        files = [f for f in (_relative(root, p) for p in paths) if f is not None]
    else:
        raise UsageError("give the files to check, or --staged for what is about to be committed")
    for path in files:
        _check_file(snapshot, config, path, report)
    return AudioCheck(root, len(files), sorted(report.findings))


def _relative(root: Path, given: Path) -> str | None:
    """``given`` relative to ``root``, or None outside the voice repository."""
    absolute = Path(os.path.abspath(given))
    full = absolute.parent.resolve() / absolute.name
    try:
        return full.relative_to(root).as_posix()
    except ValueError:
        return None


def _check_file(snapshot: Snapshot, config: Config, path: str, report: Report) -> None:
    try:
        head = snapshot.head(path, HEAD_BYTES) if snapshot.kind(path) == "file" else b""
    except OSError:
        head = b""
    kind = recording_kind(path, head)
    if kind and not allowed(path, config.hooks.allow_audio):
        report.add(
            path,
            f"{kind}: recordings stay out of git, only their tokens go in (encode it with "
            "refmgr add; or allow this path in refmgr.toml's [hooks] allow_audio)",
            "audio",
        )
    refs = config.paths.refs + "/"
    if path.startswith(refs) and snapshot.kind(path) == "file":
        size = snapshot.size(path)
        limit = config.limits.max_token_bytes
        if size > limit:
            report.add(
                path,
                f"{size} bytes, over limits.max_token_bytes = {limit} for files under {refs}",
                "size",
            )
