"""The drift report: what changed between two locks of a script, line by line, and how far
each line's sound moved (``refmgr render compare``).

Two sides, each a lock: a file, the lock as committed in a git revision, or the lock on
disk. Lines are matched by their id (``[id]`` or number, as the lock records it). For a
line in both: what changed in its inputs (text, parameters, take, lexicon, the reference's
tokens / transcript / codec, the engine and its pins), the speaker similarity of its old
and its new audio (cosine of the quality speaker scorer's embeddings), the change of each
quality score the two locks record, and of its duration. Each is judged against
``[quality.drift]``.

Audio is found, for each side, in this order, and the report says which: the same bytes on
both sides (nothing to measure); the output file in renders/ (when its sha256 is the
lock's); .refmgr/cache/outputs, where renders keep what they replace (render/archive.py);
a folder the user gives (old side: by sha256, or by output name checked against it);
rendered again from the lock's inputs when the engine here has the same id and pins and
the reference is unchanged (its bytes checked against the lock's sha256). Everything read
is checked against the sha256 the lock records before it is used; a line whose audio is
nowhere is reported as unavailable, never skipped.

Nothing heavy at import: the speaker scorer loads (refmgr[qa]) when a line needs it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import math
import os
import statistics
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from refmgr import gitrepo
from refmgr.config import SCORE_DIRECTIONS, DriftLimits
from refmgr.deliver.lockdiff import entry_changes
from refmgr.errors import GitError, RefmgrError
from refmgr.fsutil import read_regular
from refmgr.project import Project, repo_relative
from refmgr.render.archive import Found, OutputArchive, read_output
from refmgr.render.lockfile import lock_path, parse_lock

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from refmgr.backends.base import Engine
    from refmgr.quality.speaker import SpeakerEncoder

# A lock is ~1.5 KB a line: 64 MB is 40,000 lines; past it, not a lock refmgr wrote.
MAX_LOCK_BYTES = 64 * 1024 * 1024
# The most files of an --old-audio folder hashed while looking for outputs by content.
MAX_GIVEN_FILES = 20_000

# Where a side's audio of a line came from (Audio.source).
SAME = "same"  # the same bytes on both sides: nothing to compare
RENDERS = "renders"
ARCHIVE = "archive"
GIVEN = "given"
RERENDERED = "rerendered"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class LockSide:
    """One side of a comparison: a lock, and where it was read from."""

    spec: str  # what the user gave ("HEAD~1", "renders/ep.lock.json"); "" for the lock on disk
    path: str  # the lock file: relative to the repository root, or as given
    commit: str | None  # the commit it was read from, for a revision
    lock: dict[str, Any]

    @property
    def label(self) -> str:
        if self.commit is not None:
            return f"{self.spec} ({self.commit[:12]}:{self.path})"
        return self.path if self.spec else f"{self.path} (on disk)"

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "path": self.path, "commit": self.commit}


def read_side(project: Project, script_name: str, spec: str | None) -> LockSide:
    """The lock ``spec`` names: None, the script's lock on disk; an existing file, that
    lock; ``REV:PATH``, the lock at PATH (relative to the repository root) committed in
    REV; ``REV``, the script's lock committed in REV."""
    default = lock_path(project, script_name)
    if spec is None or spec == "":
        return _from_file(project, default, "")
    given = Path(spec)
    if given.is_file() or given.is_symlink():
        return _from_file(project, given, spec)
    revision, colon, rel = spec.partition(":")
    rel = rel if colon and rel else project.relative(default)
    clean = PurePosixPath(rel)
    if clean.is_absolute() or ".." in clean.parts:
        raise RefmgrError(f"{spec}: the path after ':' must be relative to the repository root")
    try:
        commit = gitrepo.commit_of(project.root, revision)
        raw = gitrepo.file_at(project.root, commit, clean.as_posix(), MAX_LOCK_BYTES)
    except GitError as e:
        raise RefmgrError(f"{spec}: {e.message}") from None
    if raw is None:
        raise RefmgrError(
            f"{spec}: {clean.as_posix()} is not in commit {commit[:12]} (was the lock "
            "committed then? give REV:PATH for a lock elsewhere, or a lock file)"
        )
    lock = parse_lock(raw, Path(f"{revision}:{clean.as_posix()}"))
    return _checked(LockSide(spec, clean.as_posix(), commit, lock))


def _from_file(project: Project, path: Path, spec: str) -> LockSide:
    if not path.exists() and not path.is_symlink():
        raise RefmgrError("no lock here: render the script first, or give a lock", path)
    raw = read_regular(path, MAX_LOCK_BYTES, what="lock")
    try:
        shown = spec if spec else project.relative(path.resolve())
    except ValueError:
        shown = spec or str(path)
    return _checked(LockSide(spec, shown, None, parse_lock(raw, path)))


def _checked(side: LockSide) -> LockSide:
    if "shard" in side.lock:
        raise RefmgrError(
            f"{side.label}: a shard's lock holds only some lines: compare the merged lock"
        )
    return side


@dataclass(frozen=True)
class Audio:
    """A side's audio of a line: where it came from (``source``) and what was checked."""

    source: str  # SAME, RENDERS, ARCHIVE, GIVEN, RERENDERED or UNAVAILABLE
    detail: str  # where it is, or why there is none (one phrase)
    path: Path | None = None  # a file holding it (none for audio rendered again)
    data: bytes | None = field(default=None, repr=False)
    verified: bool = True  # its sha256 is the lock's (a re-render may differ: said in detail)

    @property
    def found(self) -> bool:
        return self.data is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "detail": self.detail,
            "path": None if self.path is None else repo_relative(self.path),
            "verified": self.verified,
        }


@dataclass(frozen=True)
class LineDrift:
    """One line in both locks: what changed, and how far it moved."""

    id: str
    character: str
    old: Mapping[str, Any]  # the lock entries
    new: Mapping[str, Any]
    changes: tuple[str, ...]  # its inputs that differ, one phrase each
    old_audio: Audio
    new_audio: Audio
    similarity: float | None  # None: not measured (audio missing)
    scores: dict[str, tuple[float, float]]  # score -> (old, new), both locks recording it
    problems: tuple[str, ...]  # what of [quality.drift] it breaks

    @property
    def duration_change(self) -> float:
        old, new = self.old["output"]["duration_s"], self.new["output"]["duration_s"]
        return float(new / old - 1) if old > 0 else (0.0 if new == old else float("inf"))

    @property
    def drifted(self) -> bool:
        return bool(self.problems)

    @property
    def unavailable(self) -> bool:
        return self.similarity is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "character": self.character,
            "index": {"old": self.old["index"], "new": self.new["index"]},
            "changes": list(self.changes),
            "sha256": {"old": self.old["output"]["sha256"], "new": self.new["output"]["sha256"]},
            "old_audio": self.old_audio.to_json(),
            "new_audio": self.new_audio.to_json(),
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "duration_s": {
                "old": round(self.old["output"]["duration_s"], 3),
                "new": round(self.new["output"]["duration_s"], 3),
                "change": _finite(self.duration_change),
            },
            "scores": {
                k: {"old": o, "new": n, "change": round(n - o, 4)}
                for k, (o, n) in sorted(self.scores.items())
            },
            "problems": list(self.problems),
            "drifted": self.drifted,
        }


def _finite(value: float) -> float | None:
    # JSON has no infinity: an old duration of 0 (a lock from elsewhere) has no ratio.
    return round(value, 4) if math.isfinite(value) else None


@dataclass(frozen=True)
class CharacterSummary:
    character: str
    lines: int  # in both locks
    compared: int  # with a similarity measured
    median: float | None
    worst: float | None
    drifted: int
    unavailable: int

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "median": None if self.median is None else round(self.median, 4),
            "worst": None if self.worst is None else round(self.worst, 4),
        }


@dataclass(frozen=True)
class DriftReport:
    old: LockSide
    new: LockSide
    limits: DriftLimits
    lines: list[LineDrift]  # in the new lock's order
    only_old: list[tuple[str, str]]  # (id, character)
    only_new: list[tuple[str, str]]
    notes: list[str]  # changes of the whole lock (engine, pins, scorers)

    @property
    def drifted(self) -> list[LineDrift]:
        return [line for line in self.lines if line.drifted]

    @property
    def unavailable(self) -> list[LineDrift]:
        return [line for line in self.lines if line.unavailable]

    def characters(self) -> list[CharacterSummary]:
        found: dict[str, list[LineDrift]] = {}
        for line in self.lines:
            found.setdefault(line.character, []).append(line)
        summaries = []
        for character, lines in sorted(found.items()):
            sims = [line.similarity for line in lines if line.similarity is not None]
            summaries.append(
                CharacterSummary(
                    character,
                    len(lines),
                    len(sims),
                    statistics.median(sims) if sims else None,
                    min(sims) if sims else None,
                    sum(1 for line in lines if line.drifted),
                    sum(1 for line in lines if line.unavailable),
                )
            )
        return summaries

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "limits": dataclasses.asdict(self.limits),
            "notes": self.notes,
            "lines": [line.to_json() for line in self.lines],
            "only_old": [{"id": i, "character": c} for i, c in self.only_old],
            "only_new": [{"id": i, "character": c} for i, c in self.only_new],
            "characters": [c.to_json() for c in self.characters()],
            "drifted": [line.id for line in self.drifted],
            "unavailable": [line.id for line in self.unavailable],
        }


def compare_sides(
    project: Project,
    script_name: str,
    old: LockSide,
    new: LockSide,
    *,
    old_audio: Path | None = None,
    limits: DriftLimits | None = None,
) -> DriftReport:
    """The drift report of ``new`` against ``old`` (see the module's docstring).

    ``old_audio``: a folder of the old outputs (by sha256 or output name). Raises
    QualityUnavailable (exit 2) when a line needs the speaker scorer and refmgr[qa] is not
    installed; writes nothing."""
    limits = limits if limits is not None else project.config.quality.drift
    old_entries = {e["id"]: e for e in old.lock["entries"]}
    new_entries = {e["id"]: e for e in new.lock["entries"]}
    both = [e["id"] for e in new.lock["entries"] if e["id"] in old_entries]
    finder = _Finder(project, script_name, [old, new], old_audio)
    measure = _Similarity()
    lines = []
    try:
        for line_id in both:
            o, n = old_entries[line_id], new_entries[line_id]
            similarity: float | None = None
            if o["output"]["sha256"] == n["output"]["sha256"]:
                # Nothing moved: no audio to read or measure (whatever the inputs say).
                here = finder.find(new, n, given=False, rerender=False)
                old_found = new_found = Audio(SAME, "the same output on both sides", here.path)
                similarity = 1.0
                lines.append(_judged(o, n, old, new, old_found, new_found, similarity, limits))
                continue
            old_found = finder.find(old, o, given=True)
            new_found = finder.find(new, n, given=False)
            if old_found.found and new_found.found:
                assert old_found.data is not None and new_found.data is not None
                similarity = measure(old_found.data, new_found.data)
            lines.append(_judged(o, n, old, new, old_found, new_found, similarity, limits))
    finally:
        finder.close()
    only_old = [
        (e["id"], e["character"]) for e in old.lock["entries"] if e["id"] not in new_entries
    ]
    only_new = [
        (e["id"], e["character"]) for e in new.lock["entries"] if e["id"] not in old_entries
    ]
    return DriftReport(old, new, limits, lines, only_old, only_new, _notes(old.lock, new.lock))


def _judged(
    o: Mapping[str, Any],
    n: Mapping[str, Any],
    old: LockSide,
    new: LockSide,
    old_audio: Audio,
    new_audio: Audio,
    similarity: float | None,
    limits: DriftLimits,
) -> LineDrift:
    line = LineDrift(
        id=n["id"],
        character=n["character"],
        old=o,
        new=n,
        changes=tuple(_changes(old.lock, new.lock, o, n)),
        old_audio=old_audio,
        new_audio=new_audio,
        similarity=similarity,
        scores=_score_changes(o, n),
        problems=(),
    )
    return dataclasses.replace(line, problems=tuple(_problems(line, limits)))


def drift_against(project: Project, script_name: str, old: str, **options: Any) -> DriftReport:
    """The drift of the script's lock on disk against ``old`` (a lock file, REV or
    REV:PATH): what the review page calls for ``--compare OLD``. Each line gives the old
    audio (``old_audio.path`` where it is a file, else ``old_audio.data``), the new
    (``new_audio.path``: the output in renders/), the similarity and what changed."""
    return compare_sides(
        project,
        script_name,
        read_side(project, script_name, old),
        read_side(project, script_name, None),
        **options,
    )


# --- what changed ---------------------------------------------------------------------


def _changes(
    old_lock: Mapping[str, Any],
    new_lock: Mapping[str, Any],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> Iterator[str]:
    """What changed in the line's inputs, worded as the review page words it."""
    for change in entry_changes(old_lock, old, new_lock, new):
        yield change.describe()


def _engine(lock: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": lock["engine"]["id"], "pins": lock["engine"]["pins"]}


def _differences(prefix: str, old: Any, new: Any) -> Iterator[str]:
    """``prefix.key`` for each leaf that differs; small values are shown (``seed 0 -> 7``),
    hashes cut short, long ones only named."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key):
                yield from _differences(f"{prefix}.{key}", old.get(key), new.get(key))
        return
    if old == new:
        return
    if all(isinstance(v, int | float | bool | type(None)) for v in (old, new)) or all(
        isinstance(v, str | type(None)) and len(v or "") <= 24 for v in (old, new)
    ):
        yield f"{prefix} {_short(old)} -> {_short(new)}"
    elif all(isinstance(v, str) and len(v) >= 32 for v in (old, new)):
        yield f"{prefix} {str(old)[:12]}… -> {str(new)[:12]}…"
    else:
        yield prefix


def _short(value: Any) -> str:
    return "none" if value is None else str(value)


def _notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    notes = [f"engine {d}" for d in _differences("", _engine(old), _engine(new))]
    notes = [n.replace("engine .", "engine ") for n in notes]
    if "scorers" in old and "scorers" in new and old["scorers"] != new["scorers"]:
        notes.append(
            "the scores were measured with other scorer versions (scorers.pins differ): "
            "their changes are not only the audio's"
        )
    return notes


def _score_changes(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> dict[str, tuple[float, float]]:
    old_scores = (old.get("quality") or {}).get("scores", {})
    new_scores = (new.get("quality") or {}).get("scores", {})
    found = {}
    for name in sorted(set(old_scores) & set(new_scores)):
        a, b = old_scores[name], new_scores[name]
        if _number(a) and _number(b):
            found[name] = (float(a), float(b))
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _problems(line: LineDrift, limits: DriftLimits) -> Iterator[str]:
    if line.similarity is not None and line.similarity < limits.min_similarity:
        yield f"speaker similarity {line.similarity:.2f} < {limits.min_similarity:.2f}"
    # A new text takes the time it takes: duration is judged for the same words only.
    same_words = line.old["text"] == line.new["text"] and line.old.get("lexicon") == line.new.get(
        "lexicon"
    )
    change = line.duration_change
    if same_words and abs(change) > limits.max_duration_change:
        yield (
            f"duration {change:+.0%} ({line.old['output']['duration_s']:.2f} s -> "
            f"{line.new['output']['duration_s']:.2f} s), more than ±{limits.max_duration_change:.0%}"
        )
    for name, limit in sorted(limits.max_drop.items()):
        if name not in line.scores:
            continue
        old, new = line.scores[name]
        direction = SCORE_DIRECTIONS[name]
        worse = abs(new - old) if direction == 0 else (old - new) * direction
        if worse > limit:
            yield f"{name} {old:.2f} -> {new:.2f} (worse by {worse:.2f} > {limit:.2f})"


# --- finding the audio ---------------------------------------------------------------


class _Finder:
    """Each side's audio of a line, from the first place that has it (see the module's
    docstring), checked against the sha256 its lock records."""

    def __init__(
        self, project: Project, script_name: str, sides: list[LockSide], given: Path | None
    ) -> None:
        self.project = project
        self.archive = OutputArchive(project)
        self.given = given
        self._given_index: dict[str, Path] | None = None
        # Outputs the locks place in renders/, by sha256: a line renumbered since is found
        # under its new name.
        self.places: dict[str, set[str]] = {}
        for side in sides:
            for entry in side.lock["entries"]:
                self.places.setdefault(entry["output"]["sha256"], set()).add(
                    entry["output"]["path"]
                )
        self.rerender: dict[str, _Rerender] = {}  # by side label

    def find(
        self, side: LockSide, entry: Mapping[str, Any], *, given: bool, rerender: bool = True
    ) -> Audio:
        sha256 = entry["output"]["sha256"]
        tried: list[str] = []
        for rel in sorted(self.places.get(sha256, ())):
            path = _inside(self.project.root, rel)
            data = None if path is None else read_output(path)
            if data is not None and _sha(data) == sha256:
                return Audio(RENDERS, rel, path, data)
        tried.append("not in renders/")
        kept = self.archive.read(sha256)
        if isinstance(kept, Found):
            return Audio(ARCHIVE, self.project.relative(kept.path), kept.path, kept.data)
        tried.append(kept)
        if given and self.given is not None:
            found = self._from_given(entry)
            if isinstance(found, Audio):
                return found
            tried.append(found)
        if not rerender:
            return Audio(UNAVAILABLE, "; ".join(tried))
        made = self._rerender(side).render(entry)
        if isinstance(made, bytes):
            if _sha(made) == sha256:
                return Audio(
                    RERENDERED,
                    f"rendered again with engine {side.lock['engine']['id']}",
                    None,
                    made,
                )
            return Audio(
                RERENDERED,
                "rendered again, but the bytes differ from the lock's sha256 (the engine is not "
                "reproducible here): compared anyway",
                None,
                made,
                verified=False,
            )
        tried.append(made)
        return Audio(UNAVAILABLE, "; ".join(tried))

    def _from_given(self, entry: Mapping[str, Any]) -> Audio | str:
        assert self.given is not None
        sha256 = entry["output"]["sha256"]
        name = PurePosixPath(entry["output"]["path"]).name
        by_name = self.given / name
        data = read_output(by_name)
        if data is not None and _sha(data) == sha256:
            return Audio(GIVEN, str(by_name), by_name, data)
        path = self._given_files().get(sha256)
        if path is not None:
            data = read_output(path)
            if data is not None and _sha(data) == sha256:
                return Audio(GIVEN, str(path), path, data)
        if data is not None:
            return f"{by_name} is not the old output (its sha256 differs from the lock's)"
        return f"not in {self.given}"

    def _given_files(self) -> dict[str, Path]:
        """Every regular file in the --old-audio folder (not below it), by sha256."""
        if self._given_index is None:
            self._given_index = {}
            assert self.given is not None
            with contextlib.suppress(OSError), os.scandir(self.given) as entries:
                for n, item in enumerate(entries):
                    if n >= MAX_GIVEN_FILES:
                        break
                    if not item.name.endswith(".wav"):
                        continue
                    data = read_output(Path(item.path))
                    if data is not None:
                        self._given_index.setdefault(_sha(data), Path(item.path))
        return self._given_index

    def _rerender(self, side: LockSide) -> _Rerender:
        if side.label not in self.rerender:
            self.rerender[side.label] = _Rerender(self.project, side.lock, side.commit)
        return self.rerender[side.label]

    def close(self) -> None:
        for rerender in self.rerender.values():
            rerender.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inside(root: Path, rel: str) -> Path | None:
    """``root / rel`` for a plain relative path (a lock from elsewhere may say anything)."""
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or "\\" in rel or not p.parts:
        return None
    return root.joinpath(*p.parts)


class _Rerender:
    """Make a lock's outputs again, when this machine can: the same engine and pins, the
    same references (by their recorded inputs: the one in the working tree, or for a lock
    read from a commit, the one committed there). The engine opens when first needed."""

    def __init__(self, project: Project, lock: Mapping[str, Any], commit: str | None) -> None:
        self.project, self.lock, self.commit = project, lock, commit
        self.voices: dict[str, Any] = {}  # character -> VoiceReference, or why there is none
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self.engine: Engine | None = None
        self.problem: str | None = None
        self.opened = False

    def _open(self) -> Engine | None:
        if self.opened:
            return self.engine
        self.opened = True
        from refmgr.backends.registry import ENGINES, engine_spec
        from refmgr.checkpoints import RunOptions, open_engine

        engine_id = self.lock["engine"]["id"]
        if engine_id not in ENGINES:
            self.problem = f"engine {engine_id} is not known here"
            return None
        try:
            engine, _ = open_engine(self.project, engine_spec(engine_id), RunOptions())
        except RefmgrError as e:
            self.problem = f"engine {engine_id} cannot run here ({e.message})"
            return None
        pins = engine.pins()
        if pins != self.lock["engine"]["pins"]:
            changed = next(iter(_differences("pins", self.lock["engine"]["pins"], pins)), "pins")
            engine.close()
            self.problem = f"engine {engine_id} here is not the one of the lock ({changed})"
            return None
        self.engine = engine
        return engine

    def render(self, entry: Mapping[str, Any]) -> bytes | str:
        """The output bytes of ``entry`` made again, or why not (one phrase)."""
        from refmgr.render.output import encode_output
        from refmgr.render.plan import cache_key, key_document

        lock = self.lock
        inputs = lock["references"][entry["character"]]["inputs"]
        document = key_document(
            engine_id=lock["engine"]["id"],
            pins=lock["engine"]["pins"],
            reference=inputs,
            text=entry["text"],
            params=entry["params"],
            lexicon=entry.get("lexicon") if isinstance(entry.get("lexicon"), dict) else None,
            chunking=entry.get("chunking") if isinstance(entry.get("chunking"), dict) else None,
        )
        if cache_key(document) != entry["key"]:
            return "cannot render again: the lock's key is not the hash of its inputs"
        if entry.get("chunking"):
            # Its audio is joined from cached chunks (render/chunks.py), which a render
            # writes: compare writes nothing.
            return "cannot render again: a line rendered in chunks (keep the cache, or give --old-audio)"
        engine = self._open()
        if engine is None:
            return f"cannot render again: {self.problem}"
        voice = self._voice(entry["character"], inputs)
        if isinstance(voice, str):
            return f"cannot render again: {voice}"
        params = _params(entry["params"])
        if params is None:
            return "cannot render again: the lock's parameters are not this refmgr's"
        spoken = self._spoken(entry, voice.language, engine)
        if spoken is None:
            return "cannot render again: lexicon.toml changed since"
        take = entry.get("take")
        seed = params.seed if take is None else int(take["seed"])
        try:
            synthesis = engine.synthesize(voice, spoken, dataclasses.replace(params, seed=seed))
            return encode_output(
                synthesis,
                key=entry["key"],
                engine_id=lock["engine"]["id"],
                draft=bool(lock["engine"]["draft"]),
                take=None if take is None else (int(take["take"]), seed),
            )
        except Exception as e:  # an engine's own failure ends this line's attempt only
            return f"cannot render again: engine failed ({type(e).__name__}: {e})"

    def _voice(self, character: str, inputs: Mapping[str, Any]) -> Any:
        if character not in self.voices:
            self.voices[character] = self._find_voice(character, inputs)
        return self.voices[character]

    def _find_voice(self, character: str, inputs: Mapping[str, Any]) -> Any:
        from refmgr.manifest import check_name
        from refmgr.reference import reference_from_manifest, voice_reference
        from refmgr.render.cast import Member

        if check_name(character) is not None:
            return f"{character!r} is not a reference name"
        try:
            reference = reference_from_manifest(self.project, self.project.manifest_path(character))
            member = Member(reference, voice_reference(self.project, reference))
        except RefmgrError as e:
            problem = f"reference {character} cannot be used ({e.message})"
        else:
            if member.key_inputs() == inputs:
                return member.voice
            changed = next(iter(_differences("reference", inputs, member.key_inputs())), "")
            problem = f"reference {character} changed since ({changed})"
        if self.commit is None:
            return problem
        committed = self._committed_member(character)
        if isinstance(committed, str):
            return f"{problem}, and in {self.commit[:12]} {committed}"
        if committed.key_inputs() != inputs:
            return f"{problem}, and its commit in {self.commit[:12]} is not the lock's either"
        return committed.voice

    def _committed_member(self, character: str) -> Any:
        """The reference ``character`` as committed in the lock's commit (manifest and
        tokens read from git, size-bounded, checked as `refmgr validate` checks them)."""
        from refmgr.manifest import MAX_MANIFEST_BYTES, parse_manifest
        from refmgr.reference import Reference, tokens_path_problem, voice_reference
        from refmgr.render.cast import Member

        assert self.commit is not None
        project, paths = self.project, self.project.config.paths
        rel = f"{paths.manifests}/{character}.json"
        try:
            raw = gitrepo.file_at(project.root, self.commit, rel, MAX_MANIFEST_BYTES)
            if raw is None:
                return f"there is no {rel}"
            where = Path(f"{self.commit[:12]}:{rel}")
            manifest = parse_manifest(raw, where)
            expected = project.tokens_relpath(character)
            problem = tokens_path_problem(manifest.tokens_path, expected, paths.refs)
            if manifest.name != character or problem:
                return f"{rel} is not {character}'s manifest ({problem or manifest.name})"
            limit = project.config.limits.max_token_bytes
            tokens = gitrepo.file_at(project.root, self.commit, expected, limit)
            if tokens is None:
                return f"there is no {expected}"
            if self._temp is None:
                self._temp = tempfile.TemporaryDirectory(prefix="refmgr-compare-")
            path = Path(self._temp.name) / f"{character}.npy"
            path.write_bytes(tokens)
            reference = Reference(manifest, where, path)
            return Member(reference, voice_reference(project, reference))
        except RefmgrError as e:
            return f"its reference cannot be used ({e.message})"

    def _spoken(self, entry: Mapping[str, Any], language: str | None, engine: Engine) -> str | None:
        matched = entry.get("lexicon")
        if not matched:
            return str(entry["text"])
        from refmgr.deliver.lexicon import load_lexicon, matched_key

        phonemes = getattr(engine, "phonemes", None) is not None
        try:
            applied = load_lexicon(self.project.root).apply(
                entry["text"], entry["character"], language, phonemes=phonemes
            )
        except RefmgrError:
            return None
        return applied.text if dict(matched_key(applied, phonemes)) == matched else None

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None


def _params(recorded: Mapping[str, Any]) -> Any:
    from refmgr.params import SynthesisParams

    names = {f.name for f in dataclasses.fields(SynthesisParams)}
    if set(recorded) != names:
        return None
    try:
        return SynthesisParams(**recorded)
    except TypeError:
        return None


# --- speaker similarity --------------------------------------------------------------


class _Similarity:
    """Cosine of the speaker embeddings of two outputs' audio; the scorer loads once."""

    def __init__(self) -> None:
        self.encoder: SpeakerEncoder | None = None
        self.embeddings: dict[str, npt.NDArray[np.float32]] = {}

    def __call__(self, old: bytes, new: bytes) -> float:
        from refmgr.quality.speaker import cosine

        return cosine(self._embed(old), self._embed(new))

    def _embed(self, data: bytes) -> npt.NDArray[np.float32]:
        key = _sha(data)
        if key not in self.embeddings:
            from refmgr.audio import resample
            from refmgr.render.output import pcm_of

            encoder = self._encoder()
            audio, rate = pcm_of(data)
            x = resample(audio, rate, encoder.sample_rate) if rate != encoder.sample_rate else audio
            self.embeddings[key] = encoder.embed(x)
        return self.embeddings[key]

    def _encoder(self) -> SpeakerEncoder:
        if self.encoder is None:
            from refmgr.quality.available import missing_modules
            from refmgr.quality.base import QualityUnavailable

            missing = missing_modules()
            if missing:
                raise QualityUnavailable(
                    "speaker similarity (render compare)", f"no {', '.join(missing)}"
                )
            self.encoder = _shared_encoder()
        return self.encoder


@functools.cache
def _shared_encoder() -> SpeakerEncoder:
    # One per process, as quality.reference.shared_meter: the weights load once (a second),
    # however many reports a process makes (the review page, tests).
    from refmgr.quality.speaker import SpeakerEncoder

    return SpeakerEncoder()
