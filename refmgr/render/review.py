"""The review page of a script's render (deliver/report.py draws it): what goes in it.

Reads the lock, each output it records (checked against the lock's sha256), the previous
lock from git (HEAD, or a revision) and the mix record; judges each line's scores with the
gate (gate.py) as refmgr.toml says now; writes one HTML file, atomically. Pictures are
kept in .refmgr/report-pictures/ by output sha256, so a second page costs little. No
engine, no scorer, no heavy import: ``refmgr render report`` (commands/render.py).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr.deliver.lockdiff import Change, every_line_new, line_changes
from refmgr.deliver.pictures import PictureCache, draw
from refmgr.deliver.report import Comparison, LineRow, Provenance, ReportPage, page_html
from refmgr.errors import GitError, RefmgrError, UsageError
from refmgr.fsutil import atomic_write, read_regular
from refmgr.gitrepo import commit_of, commit_state, file_at, is_tracked
from refmgr.project import Project, is_real_dir, repo_relative
from refmgr.render.gate import failures
from refmgr.render.lockfile import lock_path, parse_lock
from refmgr.render.output import OutputFacts, OutputIndex, facts_of, pcm_of, stamp

MAX_LOCK_BYTES = 64 * 1024 * 1024  # a lock of 100,000 lines is about 60 MB
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
MAX_RECORD_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ReportResult:
    path: Path
    counts: dict[str, int]
    since: str | None
    bytes: int
    pictures_cached: int
    pictures_drawn: int
    embedded: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "report": repo_relative(self.path),
            **self.counts,
            "since": self.since,
            "bytes": self.bytes,
            "embedded": self.embedded,
            "pictures": {"cached": self.pictures_cached, "drawn": self.pictures_drawn},
        }


def write_review(
    project: Project,
    name: str,
    lock: Mapping[str, Any],
    target: Path,
    *,
    embed: bool = False,
    since: str | None = None,
    mix: Path | None = None,
    comparisons: Mapping[str, Comparison] | None = None,
) -> ReportResult:
    """Write the review page of the render of script ``name`` (its lock as read_lock
    checked it) to ``target``, an .html file in an existing folder. ``comparisons``: the
    old take of lines (by id) to play beside the new (A/B, for ``render compare``)."""
    folder = Path(os.path.abspath(target)).parent
    if _inside(project.root, folder):
        project.write_dir(folder)  # no symlinked folder of a clone leads the page elsewhere
    path = lock_path(project, name)
    previous, since_label, since_problem = _previous(project, path, since)
    if previous is None and since_label is not None:
        changes = every_line_new(lock)  # the revision has no lock: every line is new
    else:
        changes = line_changes(previous, lock)
    cache = PictureCache(project.write_dir(project.ensure_state_dir() / "report-pictures"))
    rows = _rows(project, name, lock, changes, folder, cache, embed=embed)
    if comparisons:
        rows = [dataclasses.replace(r, comparison=comparisons.get(r.id)) for r in rows]
    state = _commit(project, path)
    page = ReportPage(
        Provenance(
            script=lock["script_path"] if isinstance(lock.get("script_path"), str) else name,
            lock=project.relative(path),
            engine=lock["engine"]["id"],
            draft=bool(lock["engine"]["draft"]),
            pins=lock["engine"]["pins"],
            commit=state[0],
            committed=state[1],
            since=since_label,
            since_problem=since_problem,
            mix=_mix_summary(project, lock, mix),
        ),
        rows,
        scored=any(r.scores for r in rows),
    )
    data = page_html(page).encode("utf-8")
    try:
        atomic_write(Path(os.path.abspath(target)), data)
    except OSError as e:
        raise RefmgrError(f"cannot write the review page: {e.strerror}", target) from None
    cache.prune()
    return ReportResult(
        target, page.counts(), since_label, len(data), cache.hits, cache.made, embed
    )


def _inside(root: Path, folder: Path) -> bool:
    # As written, not resolved: a symlinked folder inside is what write_dir must refuse.
    try:
        Path(os.path.abspath(folder)).relative_to(root)
    except ValueError:
        return False
    return True


def _previous(
    project: Project, path: Path, since: str | None
) -> tuple[dict[str, Any] | None, str | None, str]:
    """The lock to compare with, what it is called, and why there is none when there is not:
    ``since`` (a revision) if given, else HEAD's when git tracks the lock."""
    try:
        if since is None and not is_tracked(project.root, path):
            return None, None, "the lock is not committed: no previous lock to compare with"
        revision = since or "HEAD"
        commit = commit_of(project.root, revision)
        raw = file_at(project.root, commit, project.relative(path), MAX_LOCK_BYTES)
    except GitError as e:
        if since is not None:
            raise UsageError(f"--since {since}: {e.message}") from None
        return None, None, f"no previous lock ({e.message})"
    if raw is None:
        return None, revision, ""
    where = Path(f"{project.relative(path)}@{revision}")
    return parse_lock(raw, where), revision, ""


def _commit(project: Project, path: Path) -> tuple[str | None, bool | None]:
    """The last commit that changed the lock, and whether the lock is as committed."""
    try:
        state = commit_state(project.root, {"lock": [path]})
    except GitError:
        return None, None
    return state.last_commits.get("lock"), not state.uncommitted


def _rows(
    project: Project,
    name: str,
    lock: Mapping[str, Any],
    changes: Mapping[str, list[Change]],
    folder: Path,
    cache: PictureCache,
    *,
    embed: bool,
) -> list[LineRow]:
    limits = project.config.quality.render
    draft = bool(lock["engine"]["draft"])
    outputs = project.renders_dir / name
    # A clone's renders/NAME may be a symlink to anywhere: nothing is read through one.
    real = is_real_dir(project.root, outputs)
    index = OutputIndex.load(project.state_dir / f"render-{name}.outputs.json")
    rows = []
    for entry in lock["entries"]:
        output = entry["output"]
        path = project.root / output["path"]
        facts, data, note = _output(
            path, outputs if real else None, output["sha256"], index, need_bytes=embed
        )
        picture = cache.get(output["sha256"]) if facts is not None and not note else None
        if facts is not None and picture is None:
            data = data if data is not None else _bytes(path)
            samples, rate = pcm_of(data)
            picture = draw(samples, rate)
            if not note:
                cache.put(output["sha256"], picture)
        if facts is None:
            audio = None
        elif embed:
            assert data is not None
            audio = "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")
        else:
            audio = _relative_url(path, folder)
        quality = entry.get("quality")
        scores = quality["scores"] if isinstance(quality, dict) else {}
        take = entry.get("take")
        rows.append(
            LineRow(
                index=entry["index"],
                id=entry["id"],
                character=entry["character"],
                text=entry["text"],
                audio=audio,
                duration_s=output["duration_s"],
                take=take["take"] if take else 1,
                seed=take["seed"] if take else entry["params"].get("seed"),
                picture=None if picture is None else _data_uri(picture),
                scores=scores,
                problems=tuple(failures(scores, limits, draft=draft)),
                changes=tuple(changes.get(entry["id"], ())),
                note=note,
            )
        )
    for missing in lock["missing"]:
        rows.append(
            LineRow(
                index=missing["index"],
                id=missing["id"],
                character=missing["character"],
                text="",
                audio=None,
                changes=tuple(changes.get(missing["id"], ())),
                note="not rendered (listed as missing in the lock)",
            )
        )
    return sorted(rows, key=lambda r: r.index)


def _output(
    path: Path, outputs: Path | None, sha256: str, index: OutputIndex, *, need_bytes: bool
) -> tuple[OutputFacts | None, bytes | None, str]:
    """What the output at ``path`` is (via the render's index when its stat data says the
    file is as read before), its bytes when read, and what is wrong with it, if anything."""
    if outputs is None or path.parent != outputs or path.is_symlink():
        return None, None, "output outside the script's renders folder: not shown"
    try:
        facts = None if need_bytes else index.lookup(path.name, stamp(path))
    except OSError:
        return None, None, "output missing: render the script again"
    data = None
    if facts is None:
        try:
            data = _bytes(path)
        except RefmgrError as e:
            return None, None, f"output unreadable: {e.message}"
        facts = facts_of(data)
        if facts is None:
            return None, None, "output is not a whole refmgr output: render the script again"
    if facts.sha256 != sha256:
        return facts, data, "output changed since the lock was written: render the script again"
    return facts, data, ""


def _bytes(path: Path) -> bytes:
    return read_regular(path, MAX_OUTPUT_BYTES, what="rendered line")


def _relative_url(path: Path, folder: Path) -> str:
    relative = os.path.relpath(os.path.abspath(path), folder)
    return urllib.parse.quote(Path(relative).as_posix(), safe="/")


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _mix_summary(project: Project, lock: Mapping[str, Any], mix: Path | None) -> str:
    """The mix and its loudness, from its record (NAME.mix.json beside the mix): the one
    ``mix`` names, else the newest record of this script in renders/ or the repository's
    root. An unreadable record is named, not fatal: the page is about the lines."""
    if mix is not None:
        candidates = [mix if mix.name.endswith(".mix.json") else mix.with_suffix(".mix.json")]
    else:
        found = [*project.renders_dir.glob("*.mix.json"), *project.root.glob("*.mix.json")]
        candidates = sorted(found, key=_mtime, reverse=True)
    for path in candidates:
        try:
            record = json.loads(read_regular(path, MAX_RECORD_BYTES, what="mix record"))
        except (RefmgrError, ValueError) as e:
            if mix is not None:
                raise RefmgrError(f"cannot read the mix record: {e}", path) from None
            continue
        if not isinstance(record, dict) or record.get("script") != lock.get("script_path"):
            if mix is not None:
                raise RefmgrError("not the mix record of this script", path)
            continue
        return _describe_mix(path, record)
    return ""


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _describe_mix(path: Path, record: Mapping[str, Any]) -> str:
    audio = record.get("audio")
    where = Path(audio).name if isinstance(audio, str) and audio else path.name
    duration = record.get("duration_s")
    text = f"{where}" + (f", {duration:.1f} s" if isinstance(duration, int | float) else "")
    loudness = record.get("loudness")
    if not isinstance(loudness, dict):
        return text + ", not loudness-normalized"
    measured, target = (_table(loudness.get(k)) for k in ("measured", "target"))
    parts = []
    for key, unit in (("integrated_lufs", "LUFS"), ("true_peak_db", "dBTP true peak")):
        value = measured.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{value:.1f} {unit}")
    name = target.get("name")
    if isinstance(name, str):
        met = loudness.get("met")
        verdict = "met" if met is True else "missed" if met is False else "?"
        parts.append(f"target {name[:40]} {verdict}")
    return text + ": " + ", ".join(parts) if parts else text
