"""What a render will do, decided before anything is written.

Each line gets a cache key: the sha256 of a canonical JSON document of everything that
changes its sound (engine id and pins, the reference's codec pins, tokens sha256,
transcript, language and voice profile, the text, the synthesis parameters, the output
format, the lexicon.toml entries that match the line, if any, and for a line split into
chunks how it is split and joined: see chunks.py) and nothing that does not (no names,
paths, line numbers or times; no lexicon entry the line does not contain).
A line whose output file already carries its key is kept; one whose key another output
carries is copied from it (lines renumbered by an insertion); the others are rendered.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from refmgr.backends.base import EngineSpec
from refmgr.config import RenderSettings
from refmgr.deliver.lexicon import LEXICON_FILE, Lexicon, describe, matched_key
from refmgr.errors import RefmgrError
from refmgr.params import SynthesisParams, with_overrides
from refmgr.project import Project, repo_relative
from refmgr.render.cast import Cast
from refmgr.render.chunks import Chunking, PlannedChunk, chunking_for, plan_chunks
from refmgr.render.output import SUFFIX, ChunkFacts, OutputFacts, OutputIndex, read_outputs
from refmgr.render.script import Script, ScriptError, ScriptLine
from refmgr.render.takes import LineQuality

KEY_VERSION = 1  # bump when the key's document changes shape: every line renders again
OUTPUT_FORMAT = "wav-pcm16"


class Action(enum.StrEnum):
    KEEP = "keep"  # the output is there and carries the line's key
    RENDER = "render"
    REUSE = "reuse"  # another output carries the key: copy it
    SKIP = "skip"  # outside --only or --shard
    FAILED = "failed"  # the character is refused, or the engine cannot take the parameters


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        k, slash, n = text.partition("/")
        if slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n):
            return cls(int(k), int(n))
        raise RefmgrError(f"--shard must be K/N with 1 <= K <= N (e.g. 2/3), not '{text}'")

    def takes(self, line: ScriptLine) -> bool:
        # Round robin over the script order: balanced, and the same on every machine.
        return (line.index - 1) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class Step:
    line: ScriptLine
    output: str  # relative to the repository root, '/'-separated
    action: Action
    reason: str
    key: str | None = None  # None when the character is refused
    params: SynthesisParams | None = None
    source: str | None = None  # REUSE: the output that holds the same audio
    error: RefmgrError | None = None  # FAILED
    spoken: str | None = None  # the text the engine gets, lexicon applied; None: the line's
    lexicon: dict[str, Any] | None = None  # the lexicon entries that match (see key_document)
    # RENDER: (take, seed) of the retake the last lock chose for this key, made directly
    # instead of searching again (see takes.py); None: start from the line's own seed.
    replay: tuple[int, int] | None = None
    # A line longer than the engine's chunk limit: its chunks (text and key, see chunks.py)
    # and how it is split and joined (in its key document); () and None for other lines.
    chunks: tuple[PlannedChunk, ...] = ()
    chunking: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    script: Script
    engine: EngineSpec
    pins: dict[str, Any]
    cast: Cast
    steps: tuple[Step, ...]
    shard: Shard | None
    partial: bool  # --only or --shard: outputs of other lines are left as they are
    existing: dict[str, OutputFacts]  # every refmgr output of this script on disk, by path
    orphans: tuple[str, ...]  # outputs no line makes any more (removed by whole renders)
    plan_sha256: str  # identifies the whole plan: shards of one render agree on it
    warn_line_chars: int = 0  # [render] warn_line_chars: longer lines are warned about

    def warnings(self) -> list[str]:
        """One warning per selected line longer than warn_line_chars (lexicon applied)."""
        found = []
        for step in self.selected():
            length = len(step.line.text if step.spoken is None else step.spoken)
            if self.warn_line_chars and length > self.warn_line_chars:
                split = f", split into {len(step.chunks)} chunks" if step.chunks else ""
                found.append(
                    f"line {step.line.label} is {length} characters long (over "
                    f"render.warn_line_chars = {self.warn_line_chars}{split}): consider "
                    "breaking it into several lines"
                )
        return found

    def selected(self) -> Iterator[Step]:
        """The steps of this run's lines (all, or those of its shard)."""
        return (s for s in self.steps if self.shard is None or self.shard.takes(s.line))

    def count(self, action: Action) -> int:
        return sum(1 for s in self.steps if s.action is action)

    def to_json(self) -> dict[str, Any]:
        """``render status --json`` and ``render --dry-run --json``; a render adds its run."""
        return {
            "script": repo_relative(self.script.path),
            "engine": self.engine.id,
            "draft": self.engine.draft,
            "shard": None if self.shard is None else str(self.shard),
            "plan_sha256": self.plan_sha256,
            "counts": {a.value: self.count(a) for a in Action},
            "warnings": self.warnings(),
            "lines": [
                {
                    "index": s.line.index,
                    "id": s.line.label,
                    "line": s.line.line,
                    "character": s.line.character,
                    "output": s.output,
                    "action": s.action.value,
                    "reason": s.reason,
                    "key": s.key,
                    "chunks": len(s.chunks),
                }
                for s in self.steps
            ],
        }


@dataclass(frozen=True)
class Recorded:
    """What an earlier lock says of an output: the key document it was made from, its
    sha256, the retake it is (take, seed) if it is not the line's first take, its scores."""

    document: Mapping[str, Any]
    sha256: str
    take: tuple[int, int] | None = None
    quality: LineQuality | None = None
    scorer_pins: Mapping[str, str] | None = None  # the lock's scorers, which measured ``quality``
    chunks: tuple[ChunkFacts, ...] = ()  # a split line's chunks (their keys and sha256)


def output_of(step: Step, facts: Mapping[str, OutputFacts]) -> OutputFacts | None:
    """The output of ``step`` among ``facts`` (by path), if it was made for the step's key."""
    have = facts.get(step.output)
    return have if have is not None and step.key is not None and have.key == step.key else None


def line_params(settings: RenderSettings, line: ScriptLine, seed: int | None) -> SynthesisParams:
    overrides: dict[str, float] = {} if seed is None else {"seed": seed}
    return synthesis_params(settings, {**overrides, **line.overrides})


def synthesis_params(settings: RenderSettings, overrides: Mapping[str, float]) -> SynthesisParams:
    """refmgr.toml's [render] parameters, with ``overrides`` (other keys are ignored)."""
    return with_overrides(settings, overrides)


def key_document(
    *,
    engine_id: str,
    pins: Mapping[str, Any],
    reference: Mapping[str, Any],
    text: str,
    params: Mapping[str, Any],
    lexicon: Mapping[str, Any] | None = None,
    chunking: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    document = {
        "version": KEY_VERSION,
        "engine": {"id": engine_id, "pins": pins},
        "reference": reference,
        "text": text,
        "params": params,
        "format": OUTPUT_FORMAT,
    }
    # Only when entries match: the keys of lines no entry touches stay what they were.
    if lexicon:
        document["lexicon"] = lexicon
    # Only for a line split into chunks: every other line keeps its key.
    if chunking:
        document["chunking"] = chunking
    return document


def cache_key(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def make_plan(
    project: Project,
    script: Script,
    cast: Cast,
    *,
    engine: EngineSpec,
    pins: dict[str, Any],
    settings: RenderSettings,
    seed: int | None = None,
    force: bool = False,
    only: Collection[str] = (),
    shard: Shard | None = None,
    previous: Mapping[str, Recorded] | None = None,
    index: OutputIndex | None = None,
    lexicon: Lexicon | None = None,
) -> Plan:
    """``previous``: what the last lock recorded, by output path: it says why a line is
    stale, and catches outputs changed since; ``index``: see OutputIndex; ``lexicon``:
    lexicon.toml, applied to each line's text."""
    selected_labels = _check_only(script, only)
    outputs_dir = f"{project.config.paths.renders}/{script.name}"
    existing = {
        f"{outputs_dir}/{name}": facts
        for name, facts in read_outputs(project.renders_dir / script.name, index).items()
    }
    chunking = chunking_for(engine, settings)
    by_key: dict[str, str] = {}
    for path, facts in existing.items():
        by_key.setdefault(facts.key, path)
    steps = []
    for line in script.lines:
        output = f"{outputs_dir}/{line.stem}{SUFFIX}"
        params = line_params(settings, line, seed)
        steps.append(
            _step(
                line,
                output,
                cast,
                engine=engine,
                pins=pins,
                params=params,
                refused=cast.refused.get(line.character)
                or _params_refused(project, script, line, engine, params, seed),
                existing=existing,
                by_key=by_key,
                force=force,
                chosen=(shard is None or shard.takes(line))
                and (not selected_labels or line.label in selected_labels),
                previous=(previous or {}).get(output),
                why_skipped=f"not in shard {shard}" if shard else "not chosen with --only",
                lexicon=lexicon,
                chunking=chunking,
            )
        )
    made = {s.output for s in steps}
    return Plan(
        script=script,
        engine=engine,
        pins=pins,
        cast=cast,
        steps=tuple(steps),
        shard=shard,
        partial=bool(shard or selected_labels),
        existing=existing,
        orphans=tuple(sorted(set(existing) - made)),
        plan_sha256=hashlib.sha256(canonical_json([[s.output, s.key] for s in steps])).hexdigest(),
        warn_line_chars=settings.warn_line_chars,
    )


def _params_refused(
    project: Project,
    script: Script,
    line: ScriptLine,
    engine: EngineSpec,
    params: SynthesisParams,
    seed: int | None,
) -> RefmgrError | None:
    """Why ``engine`` cannot render ``line`` with ``params`` (pointing where the value came
    from: the line's override, --seed or refmgr.toml), or None."""
    refused = engine.params.first_problem(params, engine.id)
    if refused is None:
        return None
    name, problem = refused
    if name in line.overrides:
        return ScriptError(problem, script.path, line.line, line.override_columns[name])
    if name == "seed" and seed is not None:
        return RefmgrError(f"--seed: {problem}")
    return RefmgrError(f"render.{problem}", project.config_path)


def _step(
    line: ScriptLine,
    output: str,
    cast: Cast,
    *,
    engine: EngineSpec,
    pins: dict[str, Any],
    params: SynthesisParams,
    refused: RefmgrError | None,
    existing: Mapping[str, OutputFacts],
    by_key: Mapping[str, str],
    force: bool,
    chosen: bool,
    previous: Recorded | None,
    why_skipped: str,
    lexicon: Lexicon | None = None,
    chunking: Chunking | None = None,
) -> Step:
    if refused is not None:
        return Step(line, output, Action.FAILED, str(refused), error=refused)
    member = cast.members[line.character]
    phonemes = engine.phonemes is not None
    spoken, matched = line.text, {}
    if lexicon is not None and lexicon.entries:
        applied = lexicon.apply(line.text, line.character, member.voice.language, phonemes=phonemes)
        unsayable = [e for e in applied.matched if e.spoken(phonemes) is None]
        if unsayable:
            error = RefmgrError(
                f"{describe(unsayable[0])} has only phonemes, and engine {engine.id} takes "
                f"text: give it say = ... (line {line.label})",
                LEXICON_FILE,
            )
            return Step(line, output, Action.FAILED, str(error), error=error)
        spoken, matched = applied.text, dict(matched_key(applied, phonemes))
    split = chunking is not None and chunking.splits(spoken)
    document = key_document(
        engine_id=engine.id,
        pins=pins,
        reference=member.key_inputs(),
        text=line.text,
        params=dataclasses.asdict(params),
        lexicon=matched,
        chunking=chunking.to_json() if chunking is not None and split else None,
    )
    key = cache_key(document)
    step = Step(
        line,
        output,
        Action.RENDER,
        "",
        key=key,
        params=params,
        spoken=spoken if matched else None,
        lexicon=matched or None,
        chunking=document.get("chunking"),
    )
    have = existing.get(output)
    if not chosen:
        fresh = have is not None and have.key == key
        return dataclasses.replace(
            step, action=Action.SKIP, reason=why_skipped + ("" if fresh else "; stale")
        )
    if previous is not None and previous.take is not None and _made_for(previous, key):
        step = dataclasses.replace(step, replay=previous.take)
    step = _decide(step, have, key, force, previous, by_key, document)
    if split and chunking is not None:
        # With the seed the line is spoken with: its own, or that of the retake replayed.
        seed = params.seed if step.replay is None else step.replay[1]
        chunks = plan_chunks(
            chunking,
            engine.id,
            pins,
            member.voice,
            spoken,
            dataclasses.replace(params, seed=seed),
        )
        step = _chunked(dataclasses.replace(step, chunks=chunks), previous)
    return step


def _decide(
    step: Step,
    have: OutputFacts | None,
    key: str,
    force: bool,
    previous: Recorded | None,
    by_key: Mapping[str, str],
    document: Mapping[str, Any],
) -> Step:
    if force:
        # Searched again: deterministic, but the gate's limits may have changed since.
        return dataclasses.replace(step, reason="--force", replay=None)
    if have is not None and have.key == key:
        if previous is not None and previous.sha256 != have.sha256 and _made_for(previous, key):
            # Right key, other bytes: the file was changed or damaged after it was locked.
            return dataclasses.replace(step, reason="the output differs from its locked sha256")
        return dataclasses.replace(step, action=Action.KEEP, reason="up to date")
    source = by_key.get(key)
    if source is not None:
        return dataclasses.replace(
            step, action=Action.REUSE, reason=f"same audio as {source}", source=source
        )
    return dataclasses.replace(step, reason=_why_stale(have, previous, document))


def _chunked(step: Step, previous: Recorded | None) -> Step:
    """``step`` with its reason saying how many chunks the line has, and for a line to
    render, how many of them its last lock does not have (those are spoken again)."""
    if not step.chunks:
        return step
    count = len(step.chunks)
    note = f"{count} chunks"
    if step.action is Action.RENDER and previous is not None and previous.chunks:
        known = {c.key for c in previous.chunks}
        changed = sum(1 for c in step.chunks if c.key not in known)
        note = f"{changed} of {count} chunks changed"
    return dataclasses.replace(step, reason=f"{step.reason} ({note})")


def _made_for(recorded: Recorded, key: str) -> bool:
    return cache_key(recorded.document) == key


def _why_stale(
    have: OutputFacts | None, previous: Recorded | None, document: Mapping[str, Any]
) -> str:
    if have is None:
        return "not rendered yet"
    if previous is None or not _made_for(previous, have.key):
        return "the output was made from other inputs"
    return "changed: " + ", ".join(_differences(previous.document, document))


def _differences(old: Any, new: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for k in sorted(set(old) | set(new)):
            if old.get(k) != new.get(k):
                yield from _differences(old.get(k), new.get(k), f"{prefix}{k}.")
        return
    name = prefix.rstrip(".")
    short = all(isinstance(v, int | float | type(None)) for v in (old, new))
    yield f"{name} {old} -> {new}" if short else name


def _check_only(script: Script, only: Collection[str]) -> set[str]:
    labels = {line.label for line in script.lines}
    chosen = set()
    for wanted in only:
        # A number may be written without its zero padding: --only 7 is 0007.
        label = f"{int(wanted):04d}" if wanted.isdigit() else wanted
        if label not in labels:
            examples = ", ".join(line.label for line in script.lines[:3])
            raise RefmgrError(
                f"--only {wanted}: no such line (lines are named by their [id] or their "
                f"number: {examples}, ...)",
                script.path,
            )
        chosen.add(label)
    return chosen
