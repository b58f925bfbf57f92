"""refmgr lexicon check: entries of lexicon.toml no script line uses, and entries that
repeat or contradict each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr.deliver.lexicon import LEXICON_FILE, describe, load_lexicon, overlaps, scripts_lines
from refmgr.errors import RefmgrError
from refmgr.project import Project
from refmgr.reference import load_reference
from refmgr.render.lockfile import read_lock
from refmgr.render.script import SHARD_MARK, read_script


@dataclass(frozen=True)
class LexiconFinding:
    entry: str  # "[global] 'Nguyen'"
    problem: str

    def __str__(self) -> str:
        return f"{LEXICON_FILE}: {self.entry}: {self.problem}"


@dataclass(frozen=True)
class LexiconCheck:
    entries: int
    scripts: list[str]
    lines: int
    findings: list[LexiconFinding]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.findings,
            "entries": self.entries,
            "scripts": self.scripts,
            "lines": self.lines,
            "findings": [{"entry": f.entry, "problem": f.problem} for f in self.findings],
        }


def check_lexicon(project: Project, scripts: Sequence[Path] = ()) -> LexiconCheck:
    """Check lexicon.toml against ``scripts`` (default: every script a render lock in
    renders/ belongs to)."""
    lexicon = load_lexicon(project.root)
    if not lexicon.entries and not (project.root / LEXICON_FILE).exists():
        raise RefmgrError("no lexicon.toml in the voice repository", project.root)
    paths = list(scripts) or _locked_scripts(project)
    if not paths:
        raise RefmgrError(
            "no script to check against: give the scripts (refmgr lexicon check SCRIPT...), "
            "or render them first",
            project.renders_dir,
        )
    limit = project.config.limits.max_line_chars
    languages: dict[str, str | None] = {}
    lines: list[tuple[str, str, str | None]] = []
    sources = []
    for path in paths:
        script = read_script(path, project.root, max_line_chars=limit)
        sources.append(script.source)
        for line in script.lines:
            if line.character not in languages:
                languages[line.character] = _language(project, line.character)
            lines.append((line.text, line.character, languages[line.character]))
    used = scripts_lines(lines, lexicon)
    repeated = overlaps(lexicon)
    reported = {o.second for o in repeated}  # never matches: one finding says why
    findings = [
        LexiconFinding(describe(e), "matches no line of the scripts checked")
        for e in lexicon.entries
        if e not in used and e not in reported
    ]
    findings += [
        LexiconFinding(describe(o.second), f"{o.problem} with {describe(o.first)}")
        for o in repeated
    ]
    return LexiconCheck(len(lexicon.entries), sources, len(lines), findings)


def _language(project: Project, character: str) -> str | None:
    try:
        language = load_reference(project, character).manifest.data.get("language")
    except RefmgrError:
        return None  # not a reference: only [global] and [character.*] entries apply
    return language if isinstance(language, str) else None


def _locked_scripts(project: Project) -> list[Path]:
    found = []
    for lock_file in sorted(project.renders_dir.glob("*.lock.json")):
        if SHARD_MARK in lock_file.name:
            continue
        try:
            lock = read_lock(lock_file)
        except RefmgrError:
            continue  # `render status` says what is wrong with it
        source = lock.get("script_path") if lock else None
        if not isinstance(source, str):
            continue
        # A lock comes with a clone: its script must be a file inside the repository.
        candidate = (project.root / source).resolve()
        if candidate.is_relative_to(project.root.resolve()) and candidate.is_file():
            found.append(candidate)
    return found
