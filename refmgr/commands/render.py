"""refmgr render: render a script's lines in its characters' voices, only what changed.

``plan_render`` decides (used by --dry-run and ``render status``), ``render_script``
decides and applies, ``export_shard`` puts a shard's lock and outputs in a bundle (what a
CI shard job uploads), ``merge_shards`` joins the locks of a render split with --shard,
``mix_script`` joins the outputs a lock records into one file, without an engine,
``report_script`` writes a render's review page (render/review.py), without one either,
and ``compare_renders`` is the drift report of two locks (refmgr.deliver.compare).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refmgr.backends.base import Engine
from refmgr.backends.registry import engine_spec
from refmgr.checkpoints import EngineArguments, RunOptions, engine_arguments
from refmgr.deliver.compare import Audio, DriftReport, compare_sides, drift_against, read_side
from refmgr.deliver.formats import format_for
from refmgr.deliver.lexicon import load_lexicon
from refmgr.deliver.loudness import LoudnessTarget
from refmgr.deliver.report import Comparison
from refmgr.errors import RefmgrError, UsageError
from refmgr.fsutil import read_regular
from refmgr.project import Project, repo_relative
from refmgr.quality.available import quality_from_env
from refmgr.render.bundle import bring_outputs, export_bundle, read_bundles
from refmgr.render.cast import cast_script
from refmgr.render.chunks import ChunkingEngine, ChunkStore, chunk_store, chunking_for
from refmgr.render.gate import problems
from refmgr.render.lockfile import (
    check_owner,
    lock_path,
    merge_locks,
    parse_lock,
    read_lock,
    recorded_outputs,
    shard_lock_paths,
    write_lock,
)
from refmgr.render.mix import MixResult, mix_locked, mix_outputs
from refmgr.render.output import OutputFacts, OutputIndex, read_outputs
from refmgr.render.plan import Action, Plan, Recorded, Shard, Step, make_plan, output_of
from refmgr.render.review import MAX_LOCK_BYTES, ReportResult, write_review
from refmgr.render.runner import EXECUTORS, Progress, RunResult, render_lock, run_plan
from refmgr.render.scoring import Scoring
from refmgr.render.script import Script, read_script, script_name, script_source
from refmgr.render.takes import LineQuality


@dataclass(frozen=True)
class GateFailure:
    """A line whose output fails the quality gate: what it fails, one phrase each."""

    step: Step
    quality: LineQuality
    problems: list[str]


@dataclass(frozen=True)
class RenderResult:
    plan: Plan
    run: RunResult
    mix: MixResult | None = None
    mix_error: RefmgrError | None = None
    scored: bool = False  # the outputs were scored (the qa extra is installed, scoring is on)
    gated: bool = False  # failing the gate fails the render
    gate_failures: list[GateFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        failed_gate = self.gated and bool(self.gate_failures)
        return not self.run.failures and self.mix_error is None and not failed_gate

    def to_json(self) -> dict[str, Any]:
        run = self.run
        return {
            **self.plan.to_json(),
            "rendered": [s.line.label for s in run.rendered],
            "reused": [s.line.label for s in run.reused],
            "removed": run.removed,
            "failures": [
                {"id": f.step.line.label, "line": f.step.line.line, "error": str(f.error)}
                for f in run.failures
            ],
            "lock": repo_relative(run.lock) if run.lock else None,
            "mix": None if self.mix is None else repo_relative(self.mix.path),
            # what `render mix --json` prints: format, subtitles, record, loudness
            "mix_details": None if self.mix is None else self.mix.to_json(),
            "seconds": round(run.seconds, 3),
            "quality": self.quality_json(),
        }

    def quality_json(self) -> dict[str, Any]:
        """Each output's scores, problems and takes, and whether the render was gated."""
        failing = {f.step.output: f.problems for f in self.gate_failures}
        lines = []
        for step in self.plan.selected():
            quality = self.run.quality.get(step.output)
            facts = self.run.facts.get(step.output)
            if quality is None or facts is None or facts.sha256 != quality.sha256:
                continue
            lines.append(
                {
                    "id": step.line.label,
                    "line": step.line.line,
                    "character": step.line.character,
                    "scores": dict(quality.scores),
                    "problems": failing.get(step.output, []),
                    "take": None
                    if facts.take == 1
                    else {"take": facts.take, "seed": facts.take_seed},
                    "takes": [
                        {"take": t.take, "seed": t.seed, "scores": dict(t.scores or {})}
                        for t in quality.takes
                    ],
                }
            )
        return {
            "scored": self.scored,
            "gate": self.gated,
            "scored_now": self.run.scored,
            "scorers": self.run.scorer_pins,
            "failed": [f.step.line.label for f in self.gate_failures],
            "lines": lines,
        }


@dataclass(frozen=True)
class RenderOptions:
    """What to render and how; the same for a render and its --dry-run."""

    engine_id: str | None = None  # None: engines.default in refmgr.toml
    device: str | None = None  # None: models.NAME.device in refmgr.toml
    precision: str | None = None  # None: models.NAME.precision in refmgr.toml
    allow_unpinned: bool = False  # use a checkpoint that differs from its pins (recorded)
    seed: int | None = None  # None: render.seed in refmgr.toml (a line's own seed wins)
    force: bool = False
    only: tuple[str, ...] = ()  # line ids or numbers
    shard: Shard | None = None
    require_committed: bool = False
    # Fail the render (exit 1) if a line fails [quality.render]; needs the qa extra.
    gate: bool = False
    retakes: int | None = None  # None: quality.render.retakes in refmgr.toml
    # Score the outputs: None as REFMGR_QUALITY says (auto: when refmgr[qa] is installed
    # and quality.render.score is on); True requires refmgr[qa] (a usage error without),
    # False never (unless gate).
    score: bool | None = None
    # Lines an engine that batches renders in one pass at most (its max_batch); None: its
    # own choice. Never part of a key: a line's audio does not depend on its batch-mates.
    batch: int | None = None
    executor: str = "local"  # where lines render (runner.EXECUTORS)
    address: str | None = None  # --executor ray: the cluster to join; None: start one
    workers: int | None = None  # --executor ray: None: one per GPU (CPU slot) of the cluster


def _index(project: Project, script_name: str) -> OutputIndex:
    return OutputIndex.load(project.state_dir / f"render-{script_name}.outputs.json")


@dataclass(frozen=True)
class _Planned:
    plan: Plan
    engine: Engine
    arguments: EngineArguments  # what the engine was built from (workers build it again)
    index: OutputIndex
    recorded: dict[str, Recorded]  # what the last lock says, by output path
    chunks: ChunkStore  # the audio of split lines' chunks


@contextlib.contextmanager
def _planned(project: Project, script: Script, options: RenderOptions) -> Iterator[_Planned]:
    check_owner(project, script.name, script.source, script.path)
    spec = engine_spec(options.engine_id or project.config.engines.default)
    # The cast first: a script none of whose voices the engine can clone from is refused
    # before a model loads (or its checkpoint is asked for).
    cast = cast_script(project, script, spec, require_committed=options.require_committed)
    if cast.refused and not cast.members:
        refusals = list(cast.refused.values())
        if len(refusals) == 1:
            raise refusals[0]
        raise RefmgrError("\n".join(str(e) for e in refusals))  # one line per voice
    arguments = engine_arguments(
        project,
        spec,
        RunOptions(
            device=options.device,
            precision=options.precision,
            allow_unpinned=options.allow_unpinned,
        ),
    )
    engine = arguments.load()
    if options.batch is not None and hasattr(engine, "max_batch"):
        engine.max_batch = options.batch
    try:
        index = _index(project, script.name)
        recorded = _recorded(project, script.name, options.shard)
        # Long lines are spoken chunk by chunk, each chunk cached (render/chunks.py): a
        # cached chunk is trusted only with the sha256 the last lock (or this checkout's
        # own record) holds for it.
        store = chunk_store(
            project.root,
            project.renders_dir,
            project.state_dir,
            script.name,
            engine=spec,
            trusted={c.key: c.sha256 for r in recorded.values() for c in r.chunks},
        )
        engine = ChunkingEngine(engine, store, chunking_for(spec, project.config.render))
        plan = make_plan(
            project,
            script,
            cast,
            engine=spec,
            pins=engine.pins(),
            settings=project.config.render,
            seed=options.seed,
            force=options.force,
            only=options.only,
            shard=options.shard,
            previous=recorded,
            index=index,
            lexicon=load_lexicon(project.root),
        )
        yield _Planned(plan, engine, arguments, index, recorded, store)
    finally:
        engine.close()


def _recorded(project: Project, name: str, shard: Shard | None) -> dict[str, Recorded]:
    """What the script's lock (and a shard's own lock) records of each output."""
    recorded: dict[str, Recorded] = {}
    paths = [lock_path(project, name)] + ([lock_path(project, name, shard)] if shard else [])
    for path in paths:
        try:
            lock = read_lock(path)
        except RefmgrError:
            continue  # rewritten by this render; it only explained staleness and held scores
        if lock is not None:
            recorded.update(recorded_outputs(lock))
    return recorded


def _read_script(project: Project, script_path: Path) -> Script:
    limit = project.config.limits.max_line_chars
    return read_script(script_path, project.root, max_line_chars=limit)


def plan_render(
    project: Project, script_path: Path, *, options: RenderOptions = RenderOptions()
) -> Plan:
    """What ``render_script`` with the same options would do; writes nothing."""
    _check_executor(options)
    with _planned(project, _read_script(project, script_path), options) as planned:
        return planned.plan


@dataclass(frozen=True)
class LineScores:
    """A line's scores as the lock records them, judged by [quality.render] now."""

    quality: LineQuality
    take: tuple[int, int] | None  # the retake its output is, if not the first take
    problems: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "scores": dict(self.quality.scores),
            "problems": self.problems,
            "take": None if self.take is None else {"take": self.take[0], "seed": self.take[1]},
            "takes_tried": max(1, len(self.quality.takes)),
        }


def recorded_scores(project: Project, plan: Plan) -> dict[str, LineScores]:
    """The scores the lock holds for the outputs ``plan`` keeps, by output path (what
    ``render status`` shows): nothing is scored."""
    recorded = _recorded(project, plan.script.name, plan.shard)
    limits = project.config.quality.render
    found = {}
    for step in plan.steps:
        have = output_of(step, plan.existing) if step.action is Action.KEEP else None
        entry = recorded.get(step.output)
        if have is None or entry is None or entry.quality is None:
            continue
        if entry.sha256 != have.sha256:
            continue
        scores = entry.quality.scores
        found[step.output] = LineScores(
            entry.quality, entry.take, problems(scores, limits, draft=plan.engine.draft)
        )
    return found


def render_script(
    project: Project,
    script_path: Path,
    *,
    options: RenderOptions = RenderOptions(),
    mix: Path | None = None,
    gap_s: float | None = None,
    loudness: LoudnessTarget | None = None,
    progress: Progress | None = None,
) -> RenderResult:
    """Render what is stale, lock it, and optionally mix every line into ``mix``."""
    _check_executor(options)
    if mix is not None and options.shard is not None:
        raise RefmgrError("--mix needs every line: run it without --shard, after the merge")
    if mix is not None:
        format_for(mix)  # a name with no known format fails before anything renders
    limits = project.config.quality.render
    if options.gate:
        _require_qa("--gate")
    elif options.score or (options.score is None and quality_from_env()):
        _require_qa("quality scoring")
    wanted = quality_from_env() if options.score is None else options.score
    score = options.gate or (limits.score if wanted is None else wanted)
    script = _read_script(project, script_path)
    with (
        render_lock(project, script.name),
        _planned(project, script, options) as planned,
    ):
        plan = planned.plan
        scoring = _scoring(project, draft=plan.engine.draft) if score else None
        try:
            with _executor(planned, options) as engine:
                run = run_plan(
                    project,
                    plan,
                    engine,
                    index=planned.index,
                    progress=progress,
                    scoring=scoring,
                    retakes=limits.retakes if options.retakes is None else options.retakes,
                    recorded=planned.recorded,
                )
        finally:
            if scoring is not None:
                scoring.close()
        if not plan.partial:
            # Chunks no line uses any more (those of outputs on disk stay: retakes).
            planned.chunks.prune(
                {c.key for s in plan.steps for c in s.chunks}
                | {c.key for facts in run.facts.values() for c in facts.chunks}
            )
    result = RenderResult(
        plan,
        run,
        scored=scoring is not None,
        gated=options.gate,
        gate_failures=gate_failures(project, plan, run),
    )
    if mix is None:
        return result
    try:
        gap = project.config.render.gap_s if gap_s is None else gap_s
        mixed = mix_outputs(project, plan, run.facts, mix, gap_s=gap, loudness=loudness)
        return dataclasses.replace(result, mix=mixed)
    except RefmgrError as e:
        return dataclasses.replace(result, mix_error=e)


def _check_executor(options: RenderOptions) -> None:
    """Executor options that cannot work: usage errors, before anything is read."""
    if options.executor not in EXECUTORS:
        raise UsageError(f"--executor {options.executor}: expected one of {', '.join(EXECUTORS)}")
    if options.executor != "ray" and (options.address is not None or options.workers is not None):
        raise UsageError("--address and --workers go with --executor ray")
    if options.address is not None:
        from refmgr.backends.ray_executor import check_address

        check_address(options.address)


@contextlib.contextmanager
def _executor(planned: _Planned, options: RenderOptions) -> Iterator[Engine]:
    """Where the lines render: this process, or a Ray cluster's workers, which the runner
    sees as one engine. The cluster is joined before the runner writes anything, so one
    that cannot be reached leaves the repository as it was; nothing to render, no cluster."""
    if options.executor == "local" or not any(
        step.action is Action.RENDER for step in planned.plan.selected()
    ):
        yield planned.engine
        return
    from refmgr.backends.ray_executor import EngineRecipe, RayExecutor

    arguments = planned.arguments
    recipe = EngineRecipe(
        arguments.engine_id,
        device=arguments.device,
        settings=arguments.settings,
        checkpoint=arguments.checkpoint,
        max_batch=options.batch,
    )
    # The workers speak what the chunking engine asks of the engine it wraps: long lines
    # are split, cached and joined here, their chunks spread over the workers.
    chunking = planned.engine
    assert isinstance(chunking, ChunkingEngine)  # _planned wraps every engine in one
    executor = RayExecutor(
        chunking.spec,
        recipe,
        chunking.inner.pins(),
        address=options.address,
        workers=options.workers,
    )
    try:
        executor.start()
        yield ChunkingEngine(executor, chunking.store, chunking.chunking)
    finally:
        executor.close()


def _require_qa(what: str) -> None:
    from refmgr.quality.available import missing_modules
    from refmgr.quality.base import QualityUnavailable

    missing = missing_modules()
    if missing:
        # Asked for and impossible: a usage error (exit 2), before anything is rendered.
        problem = QualityUnavailable("quality scoring", f"no {', '.join(missing)}")
        raise UsageError(f"{what}: {problem.message}")


def _scoring(project: Project, *, draft: bool) -> Scoring | None:
    """The render's scoring, or None without the qa extra (the render goes on unscored)."""
    from refmgr.quality.available import qa_available

    if not qa_available():
        return None
    return Scoring(project, project.config.quality.render, draft=draft)


def gate_failures(project: Project, plan: Plan, run: RunResult) -> list[GateFailure]:
    """The lines of this run whose scores fail [quality.render], in script order."""
    limits = project.config.quality.render
    found = []
    for step in plan.selected():
        quality = run.quality.get(step.output)
        have = run.facts.get(step.output)
        if quality is None or have is None or have.sha256 != quality.sha256:
            continue
        failed = problems(quality.scores, limits, draft=plan.engine.draft)
        if failed:
            found.append(GateFailure(step, quality, failed))
    return found


def mix_script(
    project: Project,
    script_path: Path,
    target: Path,
    *,
    gap_s: float | None = None,
    loudness: LoudnessTarget | None = None,
) -> MixResult:
    """Mix every line of a rendered script into ``target`` from its lock and outputs alone:
    no engine is opened (a render's plan would need one, and its device and precision)."""
    script = _read_script(project, script_path)
    with render_lock(project, script.name):
        check_owner(project, script.name, script.source, script.path)
        path = lock_path(project, script.name)
        lock = read_lock(path)
        if lock is None:
            raise RefmgrError(
                f"no lock ({project.relative(path)}): render the script, or merge its shards, "
                "first",
                script.path,
            )
        gap = project.config.render.gap_s if gap_s is None else gap_s
        return mix_locked(project, script, lock, target, gap_s=gap, loudness=loudness)


PAGE_SUFFIXES = (".html", ".htm")


def report_script(
    project: Project,
    script_path: Path,
    target: Path,
    *,
    embed: bool = False,
    since: str | None = None,
    mix: Path | None = None,
    compare: str | None = None,
) -> ReportResult:
    """Write the review page of a rendered script to ``target`` (an .html file) from its
    lock and outputs alone: ``since`` a git revision whose lock the changes are against
    (default: HEAD's, when git tracks the lock), ``mix`` the mix or record whose loudness
    the header shows, ``embed`` the audio in the page. ``compare``: a lock or revision
    (as ``render compare`` takes OLD) whose take of each line plays beside the new one."""
    if target.suffix.lower() not in PAGE_SUFFIXES:
        raise UsageError(f"-o {target}: the review page is an .html file")
    if target.is_dir():
        raise RefmgrError("is a directory; give a file name such as report.html", target)
    folder = target.absolute().parent
    if not folder.is_dir():
        raise RefmgrError("directory does not exist", folder)
    name = script_name(script_path)
    check_owner(project, name, script_source(project.root, script_path), script_path)
    path = lock_path(project, name)
    if not path.exists():
        raise RefmgrError("no lock: render the script (or merge its shards) first", path)
    lock = parse_lock(read_regular(path, MAX_LOCK_BYTES, what="render lock"), path)
    comparisons = None
    if compare is not None:
        drift = drift_against(project, name, compare)
        comparisons = {
            line.id: _comparison(line.old_audio, line.similarity, folder, embed=embed)
            for line in drift.lines
            if line.old_audio.found
        }
    return write_review(
        project, name, lock, target, embed=embed, since=since, mix=mix, comparisons=comparisons
    )


def _comparison(old: Audio, similarity: float | None, folder: Path, *, embed: bool) -> Comparison:
    """A line's old take for the page: linked where it is a file (unless ``embed``), else
    its bytes in the page (audio rendered again has no file)."""
    if old.path is not None and not embed:
        relative = os.path.relpath(os.path.abspath(old.path), folder)
        url = urllib.parse.quote(Path(relative).as_posix(), safe="/")
    else:
        assert old.data is not None
        url = "data:audio/wav;base64," + base64.b64encode(old.data).decode("ascii")
    return Comparison(url, similarity, f"{old.source}: {old.detail}")


def export_shard(project: Project, script_path: Path, shard: Shard, target: Path) -> list[str]:
    """Copy shard ``shard``'s lock and the outputs it lists into the new folder ``target``
    (see bundle.py); return the paths written, relative to ``target``."""
    name = script_name(script_path)
    with render_lock(project, name):
        check_owner(project, name, script_source(project.root, script_path), script_path)
        return export_bundle(project, name, shard, target)


def export_json(target: Path, files: Sequence[str]) -> dict[str, Any]:
    """``render export --json``: the folder and the files ``export_shard`` wrote in it."""
    return {"folder": repo_relative(target), "files": list(files)}


@dataclass(frozen=True)
class MergeResult:
    lock: Path
    shards: list[Path]
    entries: int
    missing: int
    removed: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)  # outputs taken from the bundles

    def to_json(self) -> dict[str, Any]:
        return {
            "lock": repo_relative(self.lock),
            "shards": [repo_relative(p) for p in self.shards],
            "entries": self.entries,
            "missing": self.missing,
            "copied": self.copied,
            "removed": self.removed,
        }


def merge_shards(project: Project, script_path: Path, bundles: Sequence[Path] = ()) -> MergeResult:
    """Join the shard locks of a script into renders/NAME.lock.json.

    Without ``bundles`` the shard locks are renders/NAME.shard-K-of-N.lock.json and every
    output they list must already be in renders/; with them (folders made by
    ``export_shard``, one per shard) the shard locks are theirs, and each output is taken
    from the bundle whose lock lists it, replacing a stale or missing copy in renders/.
    Every output is checked against its sha256 first; outputs of this script that no line
    makes any more are removed, as a whole render would."""
    name = script_name(script_path)
    source = script_source(project.root, script_path)
    with render_lock(project, name):
        check_owner(project, name, source, script_path)
        project.write_dir(project.renders_dir / name)  # merge writes and removes there
        left = shard_lock_paths(project, name)  # superseded by the merged lock
        shards: list[tuple[Path, dict[str, Any]]] = []
        copied: list[str] = []
        if bundles:
            found = read_bundles(project, name, source, list(bundles))
            shards = [(b.lock_file, b.lock) for b in found]
            merged = merge_locks(shards)
            copied = bring_outputs(project, name, found)
        else:
            if not left:
                raise RefmgrError(
                    f"no shard locks of '{name}' to merge (expected "
                    f"{name}.shard-K-of-N.lock.json, or give the shards' bundles)",
                    project.renders_dir,
                )
            for path in left:
                lock = read_lock(path)
                assert lock is not None
                shards.append((path, lock))
            merged = merge_locks(shards)
        prefix = f"{project.config.paths.renders}/{name}/"
        outputs = read_outputs(project.renders_dir / name, _index(project, name))
        found_outputs = {prefix + file: facts for file, facts in outputs.items()}
        for entry in merged["entries"]:
            _verify_output(project, entry["output"], found_outputs.get(entry["output"]["path"]))
        target = lock_path(project, name)
        write_lock(target, merged)  # first: an earlier lock may list what is removed next
        listed = {e["output"]["path"] for e in merged["entries"]} | {
            m["output"] for m in merged["missing"]
        }
        removed = sorted(set(found_outputs) - listed)  # outputs no line makes any more
        for output in removed:
            (project.root / output).unlink()
        for path in left:
            path.unlink()
    return MergeResult(
        lock=target,
        shards=[path for path, _ in shards],
        entries=len(merged["entries"]),
        missing=len(merged["missing"]),
        removed=removed,
        copied=copied,
    )


def _verify_output(project: Project, output: dict[str, str], found: OutputFacts | None) -> None:
    path = project.root / output["path"]
    if found is None:
        raise RefmgrError(
            "listed by a shard lock but missing or incomplete: bring every shard's renders/ "
            "together before merging",
            path,
        )
    if found.sha256 != output["sha256"]:
        raise RefmgrError(
            "does not match the sha256 its shard lock records (a stale copy from another "
            "shard?): upload each shard's `render export` bundle and merge with them",
            path,
        )


def compare_renders(
    project: Project,
    script_path: Path,
    old: str,
    new: str | None = None,
    *,
    old_audio: Path | None = None,
) -> DriftReport:
    """How the lines of SCRIPT moved from lock ``old`` to lock ``new`` (None: the lock on
    disk); each a lock file, REV or REV:PATH. Only the script's name is used. Reads only."""
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
