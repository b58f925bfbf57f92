"""Carry out a plan: render, copy and remove outputs, and keep the lock true throughout.

Order of work, so that a render stopped at any moment (Ctrl-C, SIGKILL, a full disk)
leaves a lock that only lists outputs that are really there:

1. write the lock without the outputs this run will replace;
2. render (or copy) each line, writing its output atomically;
3. remove outputs no line makes any more (whole renders only);
4. write the final lock. On Ctrl-C it is written with what finished, then exit 130.

Finished outputs carry their key (see output.py), so a restarted render keeps them.

The engine is handed every line's first take at once (``synthesize_many``: an engine
that batches, or an executor that spreads lines over workers, takes them as it likes) and
gives each back as it finishes, in any order; each is written and recorded as it comes.

With scoring (scoring.py), each take is scored in a worker thread while the engine speaks
the next lines, and a line whose take fails the gate is retaken (takes.py): the retakes
whose scores came back go to the engine together once it has given back what it had. A
line's first take is written at once; a later take replaces it only if it is better, so
the output on disk is always a whole take of the line.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import errno
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from refmgr.backends.base import Engine, LineRequest, LineResult, Synthesis, synthesize_many
from refmgr.errors import BackendError, RefmgrError
from refmgr.filelocks import failpoint, held
from refmgr.fsutil import atomic_write
from refmgr.project import Project
from refmgr.render.archive import keep_replaced
from refmgr.render.lockfile import build_lock, lock_path, write_lock
from refmgr.render.output import OutputFacts, OutputIndex, encode_output, facts_of, stamp
from refmgr.render.plan import Action, Plan, Recorded, Step, cache_key, output_of
from refmgr.render.scoring import Scoring
from refmgr.render.takes import LineQuality, Scores, TakeResult, TakeSearch

# Where lines render (RenderOptions.executor): this process, or the workers of a Ray
# cluster (backends/ray_executor.py). The runner does the writing either way.
EXECUTORS = ("local", "ray")
# (done, total, step just finished): called with (0, total, None) before the first line.
Progress = Callable[[int, int, Step | None], None]
RENDER_LOCK_WAIT_S = 0.5
# Takes synthesized but not yet scored, at most: the engine runs ahead while the scorer
# loads its models (seconds) and catches up after; a bound keeps the bytes held in check.
MAX_WAITING = 32


@dataclass(frozen=True)
class Failure:
    step: Step
    error: RefmgrError


@dataclass
class RunResult:
    facts: dict[str, OutputFacts]  # every output of the script now on disk, by path
    rendered: list[Step] = field(default_factory=list)
    reused: list[Step] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # refused lines first, then the rest
    lock: Path | None = None
    seconds: float = 0.0
    quality: dict[str, LineQuality] = field(default_factory=dict)  # by output path
    scorer_pins: dict[str, str] | None = None  # of the scores in ``quality``
    takes: int = 0  # takes synthesized: the lines rendered, and their retakes
    scored: int = 0  # outputs scored in this run (the others' scores were in the lock)


@contextlib.contextmanager
def render_lock(project: Project, script_name: str) -> Iterator[None]:
    """One render of a script at a time in a checkout (shards of it included)."""
    with held(
        project.ensure_state_dir() / f"render-{script_name}.lock",
        timeout=RENDER_LOCK_WAIT_S,
        busy=f"another refmgr render of '{script_name}' is running in this checkout",
    ):
        yield


def run_plan(
    project: Project,
    plan: Plan,
    engine: Engine,
    *,
    index: OutputIndex | None = None,
    progress: Progress | None = None,
    scoring: Scoring | None = None,
    retakes: int = 0,
    recorded: Mapping[str, Recorded] | None = None,
) -> RunResult:
    """Apply ``plan`` (call inside ``render_lock``). Per-line failures are collected in the
    result; a write that fails for lack of space or permission stops the run.

    ``scoring``: score every output this run leaves whose scores ``recorded`` (what the last
    lock says, by output path) does not hold, and retake a failing line up to ``retakes``
    times. None: nothing is scored; the recorded scores stay with the outputs they are of."""
    started = time.monotonic()
    outputs_dir = project.write_dir(project.renders_dir / plan.script.name)
    _remove_temporaries(outputs_dir)
    work = [s for s in plan.selected() if s.action in (Action.RENDER, Action.REUSE)]
    result = RunResult(facts=dict(plan.existing))
    # Lines of refused characters fail without being tried.
    result.failures += [
        Failure(s, s.error) for s in plan.selected() if s.action is Action.FAILED and s.error
    ]
    path = lock_path(project, plan.script.name, plan.shard)
    replaced = {s.output for s in work}
    books = _Books(recorded or {}, scoring)
    result.scorer_pins = scoring.pins if scoring is not None else books.pins
    for step in plan.selected():
        have = output_of(step, result.facts)
        kept = None if have is None else books.valid(step, have.sha256)
        if kept is not None and step.output not in replaced:
            result.quality[step.output] = kept
    kept_facts = {k: v for k, v in result.facts.items() if k not in replaced}
    write_lock(path, build_lock(plan, kept_facts, result.quality, result.scorer_pins))
    staged = _stage_sources(project, work)
    refused = len(result.failures)
    takes = _Takes(project, plan, engine, result, books, retakes, index, progress, len(work))
    try:
        takes.report(None)
        for step in work:
            if step.action is Action.REUSE:
                _reuse(project, plan, step, staged.pop(step.output), result)
                _record(project, index, step, result)
                takes.report(step)
        for step in plan.selected():
            if step.action in (Action.KEEP, Action.REUSE):
                takes.score_existing(step)
        for step in work:
            if step.action is Action.RENDER:
                takes.start(step)
        takes.finish()
        # Lines finish in the order the engine and the scorer give them back: report them
        # in script order.
        result.rendered.sort(key=lambda step: step.line.index)
        result.failures[refused:] = sorted(
            result.failures[refused:], key=lambda f: f.step.line.index
        )
        if not plan.partial:
            _remove_orphans(project, plan, result)
    except BaseException:
        # Ctrl-C, a full disk, a bug: lock what is finished before going.
        takes.abandon()
        with contextlib.suppress(RefmgrError):
            write_lock(path, build_lock(plan, result.facts, result.quality, result.scorer_pins))
        raise
    finally:
        for leftover in staged.values():
            with contextlib.suppress(OSError):
                leftover.unlink()
    write_lock(path, build_lock(plan, result.facts, result.quality, result.scorer_pins))
    if index is not None:
        index.save([PurePosixPath(output).name for output in result.facts])
    result.lock = path
    result.seconds = time.monotonic() - started
    return result


def _record(project: Project, index: OutputIndex | None, step: Step, result: RunResult) -> None:
    if index is not None and step.output in result.facts:
        target = project.root / step.output
        index.record(target.name, stamp(target), result.facts[step.output])


class _Books:
    """The scores an earlier lock recorded, and which of them still hold."""

    def __init__(self, recorded: Mapping[str, Recorded], scoring: Scoring | None) -> None:
        self.scoring = scoring
        # By the line's key and the sha256 of the output measured: a renumbered line's
        # copied output keeps its scores and takes.
        self.by_output = {
            (cache_key(r.document), r.sha256): r.quality
            for r in recorded.values()
            if r.quality is not None
        }
        self.pins = next((dict(r.scorer_pins) for r in recorded.values() if r.scorer_pins), None)
        self.by_path = recorded

    def prior(self, step: Step, sha256: str) -> LineQuality | None:
        assert step.key is not None
        return self.by_output.get((step.key, sha256))

    def valid(self, step: Step, sha256: str) -> LineQuality | None:
        """The recorded scores of ``step``'s output ``sha256`` if they still hold: measured
        by these scorers against these voices (any, when nothing is scored this run)."""
        prior = self.prior(step, sha256)
        if prior is None or self.scoring is None:
            return prior
        key = self.scoring.score_key(sha256, text=step.line.text, character=step.line.character)
        return prior if prior.score_key == key else None

    def scores_of(self, step: Step, sha256: str) -> Scores | None:
        """Recorded scores of output bytes ``sha256`` of ``step``'s line that still hold:
        the output's own, or those of any take tried for it (a search done again)."""
        chosen = self.valid(step, sha256)
        if chosen is not None:
            return chosen.scores
        recorded = self.by_path.get(step.output)
        if recorded is None or recorded.quality is None or self.scoring is None:
            return None
        if cache_key(recorded.document) != step.key:
            return None
        if self.valid(step, recorded.sha256) is None:
            return None  # measured by other scorers, or against other voices
        return next((t.scores for t in recorded.quality.takes if t.sha256 == sha256), None)

    def search_of(self, step: Step) -> tuple[TakeResult, ...]:
        """The takes the last lock says were tried for ``step``'s output (its replay)."""
        recorded = self.by_path.get(step.output)
        if recorded is None or recorded.quality is None or recorded.take != step.replay:
            return ()
        return recorded.quality.takes


@dataclass
class _Line:
    """A line being rendered: its search, and the bytes of its takes not on disk."""

    step: Step
    search: TakeSearch
    on_disk: int | None = None  # the take its output file holds
    pending: dict[int, bytes] = field(default_factory=dict)  # take -> output file bytes


# A score being computed: the line it decides (None: an output kept or copied, scored
# only for the lock), its step, take, seed and output sha256.
_Waiting = tuple[_Line | None, Step, int, int, str]


@dataclass
class _Round:
    """Takes handed to the engine in one ``synthesize_many`` call, by request index."""

    results: Iterator[LineResult]
    asked: dict[int, tuple[_Line, int, int]]  # index -> line, take, seed; until answered

    def close(self) -> None:
        # Stopping early (Ctrl-C, a full disk): the engine cancels what it still had.
        close = getattr(self.results, "close", None)
        if close is not None:
            close()


class _Takes:
    """Hand the engine each line's takes; score them in the scoring worker while the
    engine speaks the next lines; retake what fails. A line is done when its search is."""

    def __init__(
        self,
        project: Project,
        plan: Plan,
        engine: Engine,
        result: RunResult,
        books: _Books,
        retakes: int,
        index: OutputIndex | None,
        progress: Progress | None,
        total: int,
    ) -> None:
        self.project, self.plan, self.engine, self.result = project, plan, engine, result
        self.books, self.scoring = books, books.scoring
        self.retakes, self.index = retakes, index
        self.progress, self.total, self.done = progress, total, 0
        self.queue: collections.deque[_Line] = collections.deque()  # takes not yet asked for
        self.round: _Round | None = None
        self.waiting: dict[Future[Scores], _Waiting] = {}

    def report(self, step: Step | None) -> None:
        if step is not None:
            self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, step)

    def score_existing(self, step: Step) -> None:
        """The scores of an output this run keeps or copies: the lock's if they hold, else
        (when scoring) measured now."""
        have = output_of(step, self.result.facts)
        if have is None or step.output in self.result.quality:
            return
        kept = self.books.valid(step, have.sha256)
        if kept is not None:
            self.result.quality[step.output] = kept
            return
        if self.scoring is None:
            return
        try:
            data = (self.project.root / step.output).read_bytes()
        except OSError:
            return  # gone since the plan: left unscored, the next render sees to it
        future = self.scoring.submit(data, text=step.line.text, character=step.line.character)
        self.waiting[future] = (None, step, have.take, have.take_seed or 0, have.sha256)

    def start(self, step: Step) -> None:
        assert step.params is not None and step.key is not None
        # A line that sets its own seed is pinned by hand: never retaken.
        pinned = "seed" in step.line.overrides or self.scoring is None
        search = TakeSearch(
            key=step.key,
            first_seed=step.params.seed,
            limit=1 if pinned else 1 + self.retakes,
            replay=step.replay,
        )
        self.queue.append(_Line(step, search))

    def finish(self) -> None:
        """Render every started line: take in each result as it comes, and the scores that
        are ready in between. Waits for a score only when the engine has nothing left to
        give, or when MAX_WAITING takes are waiting for theirs."""
        while self.queue or self.round is not None or self.waiting:
            if self.round is None and self.queue:
                self.round = self._ask()
            self._collect(block=self.round is None or len(self.waiting) >= MAX_WAITING)
            if self.round is not None:
                self._receive(self.round)

    def abandon(self) -> None:
        if self.round is not None:
            self.round.close()
            self.round = None
        for future in self.waiting:
            future.cancel()

    def _ask(self) -> _Round:
        """Hand the engine the next take of every queued line (retakes first)."""
        asked: dict[int, tuple[_Line, int, int]] = {}
        requests: list[LineRequest] = []
        while self.queue:
            line = self.queue.popleft()
            step = line.step
            assert step.params is not None
            upcoming = line.search.next_take()
            assert upcoming is not None
            take, seed = upcoming
            member = self.plan.cast.members[step.line.character]
            text = step.line.text if step.spoken is None else step.spoken  # lexicon applied
            asked[len(requests)] = (line, take, seed)
            requests.append(
                LineRequest(member.voice, text, dataclasses.replace(step.params, seed=seed))
            )
        self.result.takes += len(requests)
        return _Round(iter(synthesize_many(self.engine, requests)), asked)

    def _receive(self, round_: _Round) -> None:
        """Take in the engine's next result; end the round when it has given them all."""
        try:
            index, outcome = next(round_.results)
        except StopIteration:
            self.round = None
            for line, _, _ in round_.asked.values():  # an engine that forgot a line: its bug
                self._failed(line, BackendError("the engine gave no result for this line"))
            return
        asked = round_.asked.pop(index, None)
        if asked is None:
            self.abandon()
            raise BackendError(
                f"engine '{self.plan.engine.id}' gave a result for line {index} of its batch "
                "twice, or for one it was not asked for"
            )
        line, take, seed = asked
        self._took(line, take, seed, outcome)

    def _collect(self, *, block: bool) -> None:
        if not self.waiting:
            return
        ready, _ = wait(
            list(self.waiting), timeout=None if block else 0, return_when=FIRST_COMPLETED
        )
        for future in ready:
            line, step, take, seed, sha256 = self.waiting.pop(future)
            # A scorer's own failure (a weight file off its pin) ends the run here.
            scores = future.result()
            assert self.scoring is not None
            self.result.scored += 1
            if line is None:
                self.result.quality[step.output] = LineQuality(
                    sha256, self._score_key(step, sha256), scores
                )
                continue
            line.search.tried.append(
                TakeResult(take, seed, sha256, scores, self.scoring.judge(scores))
            )
            self._settled(line)

    def _settled(self, line: _Line) -> None:
        """A take of ``line`` is judged: retake it, or finish it."""
        if line.search.next_take() is not None:
            self.queue.appendleft(line)  # its retake goes with the engine's next round
        else:
            self._finish(line)

    def _took(self, line: _Line, take: int, seed: int, outcome: Synthesis | Exception) -> None:
        """The engine gave back take ``take`` of ``line``: write, score or judge it."""
        step = line.step
        assert step.key is not None
        if isinstance(outcome, Exception):
            self._failed(line, outcome)
            return
        try:
            data = encode_output(
                outcome,
                key=step.key,
                engine_id=self.plan.engine.id,
                draft=self.plan.engine.draft,
                take=(take, seed),
            )
        except Exception as e:
            self._failed(line, e)
            return
        sha256 = hashlib.sha256(data).hexdigest()
        if line.on_disk is None:
            self._write(step, data)  # the first take at once: an interrupted run keeps it
            line.on_disk = take
        else:
            line.pending[take] = data
        if self.scoring is None:
            line.search.tried.append(TakeResult(take, seed, sha256, None))
            self._finish(line)
            known = self.books.valid(step, sha256)
            if known is not None:  # the same bytes as before: their scores still describe them
                self.result.quality[step.output] = known
            return
        cached = self.books.scores_of(step, sha256)
        if cached is not None:
            # Bytes the lock has scores of (--force, or a deleted output made again): they
            # hold, nothing to measure.
            line.search.tried.append(
                TakeResult(take, seed, sha256, cached, self.scoring.judge(cached))
            )
            self._settled(line)
            return
        future = self.scoring.submit(data, text=step.line.text, character=step.line.character)
        self.waiting[future] = (line, step, take, seed, sha256)

    def _failed(self, line: _Line, e: Exception) -> None:
        error = e if isinstance(e, RefmgrError) else None
        if error is None:
            # An engine's own failure (CUDA out of memory, ...) ends one line.
            error = BackendError(f"engine '{self.plan.engine.id}' failed: {type(e).__name__}: {e}")
        if line.search.tried:
            line.search.limit = len(line.search.tried)  # a retake failed: keep the best so far
            self._finish(line)
        else:
            self.result.failures.append(Failure(line.step, error))
            self.report(line.step)

    def _finish(self, line: _Line) -> None:
        step, best = line.step, line.search.best()
        if best.take != line.on_disk:
            self._write(step, line.pending[best.take])
            line.on_disk = best.take
        line.pending.clear()
        if best.scores is not None:
            tried = tuple(line.search.tried)
            if line.search.replay is not None:
                # Made directly from the lock: the search that chose it stays on record.
                earlier = [t for t in self.books.search_of(step) if t.take != best.take]
                tried = tuple(sorted([*earlier, best], key=lambda t: t.take))
            self.result.quality[step.output] = LineQuality(
                best.sha256,
                self._score_key(step, best.sha256),
                best.scores,
                tried if len(tried) > 1 else (),  # as the lock keeps it: one take, no list
            )
        self.result.rendered.append(step)
        self.report(step)

    def _score_key(self, step: Step, sha256: str) -> str:
        assert self.scoring is not None
        return self.scoring.score_key(sha256, text=step.line.text, character=step.line.character)

    def _write(self, step: Step, data: bytes) -> None:
        target = self.project.root / step.output
        keep_replaced(self.project, target)  # the audio it replaces, for `render compare`
        try:
            atomic_write(target, data)
        except OSError as e:
            # Out of space or permission: every later line would fail the same way.
            hint = " (disk full)" if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""
            raise RefmgrError(
                f"cannot write{hint}: {e.strerror}; {len(self.result.rendered)} lines were "
                "rendered and locked, run again to resume",
                target,
            ) from None
        facts = facts_of(data)
        assert facts is not None
        self.result.facts[step.output] = facts
        _record(self.project, self.index, step, self.result)
        failpoint("render-after-output")


def _stage_sources(project: Project, work: list[Step]) -> dict[str, Path]:
    """Link each reused output to a temporary name first: the run may overwrite the source
    (lines renumbered by an insertion swap names), the link keeps its audio."""
    staged: dict[str, Path] = {}
    try:
        for step in work:
            if step.action is Action.REUSE and step.source is not None:
                target = project.root / step.output
                temp = target.with_name(f".{target.name}.{os.getpid()}.reuse.tmp")
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
                try:
                    os.link(project.root / step.source, temp)
                except OSError:
                    shutil.copyfile(project.root / step.source, temp)
                staged[step.output] = temp
    except OSError as e:
        for temp in staged.values():
            with contextlib.suppress(OSError):
                temp.unlink()
        raise RefmgrError(f"cannot copy an earlier output: {e.strerror}", e.filename) from None
    return staged


def _reuse(project: Project, plan: Plan, step: Step, temp: Path, result: RunResult) -> None:
    assert step.source is not None
    try:
        os.replace(temp, project.root / step.output)
    except OSError as e:
        raise RefmgrError(f"cannot write: {e.strerror}", project.root / step.output) from None
    result.facts[step.output] = plan.existing[step.source]
    result.reused.append(step)


def _remove_orphans(project: Project, plan: Plan, result: RunResult) -> None:
    for output in plan.orphans:
        keep_replaced(project, project.root / output)  # for `render compare`
        with contextlib.suppress(FileNotFoundError):
            (project.root / output).unlink()
        result.facts.pop(output, None)
        result.removed.append(output)


def _remove_temporaries(directory: Path) -> None:
    # Left by a render killed mid-write; never a finished output (those have no dot prefix).
    for stray in directory.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            stray.unlink()
