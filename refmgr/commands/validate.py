"""refmgr validate: check the voice repository (or what is staged for commit); the commit hook."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr.config import CONFIG_FILE, Config
from refmgr.deliver.lexicon import LEXICON_FILE, MAX_LEXICON_BYTES, LexiconError, parse_lexicon
from refmgr.findings import Finding
from refmgr.project import STATE_DIR, find_root
from refmgr.snapshot import Index, Snapshot, WorkTree
from refmgr.store import JOURNAL, RECOVER_HINT
from refmgr.validate import Report, read_checked, snapshot_config, validate


@dataclass(frozen=True)
class ValidationResult:
    root: Path
    source: str  # "working tree" or "index"
    references: int
    findings: list[Finding]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.findings,
            "root": str(self.root),
            "source": self.source,
            "references": self.references,
            "findings": [f.to_json() for f in self.findings],
        }


def validate_repository(
    start: Path | None = None, *, paths: Sequence[Path] = (), staged: bool = False
) -> ValidationResult:
    """Check every reference, or those of ``paths`` and their partners; collect every finding."""
    root = find_root(start if start is not None else Path(os.getcwd()))
    snapshot: Snapshot = Index(root) if staged else WorkTree(root)
    report = Report()
    config = snapshot_config(snapshot, report)
    if config is not None:
        if isinstance(snapshot, Index):
            for path in snapshot.unmerged():
                report.add(path, "unresolved merge conflict: resolve it, then git add it", "git")
        elif os.path.lexists(root / STATE_DIR / JOURNAL):
            report.add(f"{STATE_DIR}/{JOURNAL}", RECOVER_HINT, "store")
        names = _selected_names(root, snapshot, config, paths, report) if paths else None
        checked = validate(snapshot, config, names=names)
        report.findings += checked.findings
        _check_lexicon(snapshot, report)
        report.references = checked.references
    return ValidationResult(
        root=root,
        source=snapshot.label,
        references=report.references,
        findings=sorted(set(report.findings), key=lambda f: (f.path, f.problem)),
    )


def _check_lexicon(snapshot: Snapshot, report: Report) -> None:
    """lexicon.toml, where there is one: size, TOML, and every entry's shape."""
    kind = snapshot.kind(LEXICON_FILE)
    if kind is None:
        return
    if kind != "file":
        report.add(LEXICON_FILE, "not a regular file", "lexicon")
        return
    data = read_checked(snapshot, LEXICON_FILE, MAX_LEXICON_BYTES, "lexicon", report, "lexicon")
    if data is None:
        return
    try:
        parse_lexicon(data, Path(LEXICON_FILE))
    except LexiconError as e:
        report.add(LEXICON_FILE, e.message, "lexicon")


def _selected_names(
    root: Path, snapshot: Snapshot, config: Config, paths: Sequence[Path], report: Report
) -> set[str] | None:
    """The references ``paths`` belong to; None (all of them) when refmgr.toml is among them."""
    names: set[str] = set()
    refs, manifests = config.paths.refs, config.paths.manifests
    for given in paths:
        absolute = Path(os.path.abspath(given))
        # The directory is resolved, not the file: a symlinked file is checked as itself.
        try:
            rel = (absolute.parent.resolve() / absolute.name).relative_to(root).as_posix()
        except ValueError:
            report.add(str(given), "is outside the voice repository", "path")
            continue
        directory, _, file = rel.rpartition("/")
        if rel == CONFIG_FILE:
            return None
        if rel == LEXICON_FILE:
            continue  # checked on every run
        if directory == refs and file.endswith(".npy"):
            names.add(file[: -len(".npy")])
        elif directory == manifests and file.endswith(".json"):
            names.add(file[: -len(".json")])
        elif not (rel.startswith(refs + "/") or rel.startswith(manifests + "/")):
            report.add(
                rel,
                f"not a reference file (refmgr validate checks {refs}/NAME.npy, "
                f"{manifests}/NAME.json and {CONFIG_FILE})",
                "path",
            )
            continue
        if snapshot.kind(rel) is None:
            report.add(rel, f"not in the {snapshot.label}", "path")
    return names
