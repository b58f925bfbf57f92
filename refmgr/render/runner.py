"""Carry out a plan: render, copy and remove outputs, and keep the lock true throughout.

Order of work, so that a render stopped at any moment (Ctrl-C, SIGKILL, a full disk)
leaves a lock that only lists outputs that are really there:

1. write the lock without the outputs this run will replace;
2. render (or copy) each line, writing its output atomically;
3. remove outputs no line makes any more (whole renders only);
4. write the final lock. On Ctrl-C it is written with what finished, then exit 130.

Finished outputs carry their key (see output.py), so a restarted render keeps them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from refmgr.backends.base import Engine
from refmgr.errors import BackendError, RefmgrError
from refmgr.filelocks import failpoint, held
from refmgr.fsutil import atomic_write
from refmgr.project import Project
from refmgr.render.lockfile import build_lock, lock_path, write_lock
from refmgr.render.output import OutputFacts, OutputIndex, encode_output, facts_of, stamp
from refmgr.render.plan import Action, Plan, Step

# (done, total, step just finished): called with (0, total, None) before the first line.
Progress = Callable[[int, int, Step | None], None]
RENDER_LOCK_WAIT_S = 0.5


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
) -> RunResult:
    """Apply ``plan`` (call inside ``render_lock``). Per-line failures are collected in the
    result; a write that fails for lack of space or permission stops the run."""
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
    write_lock(path, build_lock(plan, {k: v for k, v in result.facts.items() if k not in replaced}))
    staged = _stage_sources(project, work)
    try:
        if progress is not None:
            progress(0, len(work), None)
        for done, step in enumerate(work, start=1):
            if step.action is Action.REUSE:
                _reuse(project, plan, step, staged.pop(step.output), result)
            else:
                _render(project, plan, step, engine, result)
            if index is not None and step.output in result.facts:
                target = project.root / step.output
                index.record(target.name, stamp(target), result.facts[step.output])
            if progress is not None:
                progress(done, len(work), step)
        if not plan.partial:
            _remove_orphans(project, plan, result)
    except BaseException:
        # Ctrl-C, a full disk, a bug: lock what is finished before going.
        with contextlib.suppress(RefmgrError):
            write_lock(path, build_lock(plan, result.facts))
        raise
    finally:
        for leftover in staged.values():
            with contextlib.suppress(OSError):
                leftover.unlink()
    write_lock(path, build_lock(plan, result.facts))
    if index is not None:
        index.save([PurePosixPath(output).name for output in result.facts])
    result.lock = path
    result.seconds = time.monotonic() - started
    return result


def _render(project: Project, plan: Plan, step: Step, engine: Engine, result: RunResult) -> None:
    assert step.key is not None and step.params is not None
    member = plan.cast.members[step.line.character]
    try:
        text = step.line.text if step.spoken is None else step.spoken  # lexicon applied
        synthesis = engine.synthesize(member.voice, text, step.params)
        data = encode_output(
            synthesis, key=step.key, engine_id=plan.engine.id, draft=plan.engine.draft
        )
    except RefmgrError as e:
        result.failures.append(Failure(step, e))
        return
    except Exception as e:  # an engine's own failure (CUDA out of memory, ...) ends one line
        result.failures.append(
            Failure(
                step, BackendError(f"engine '{plan.engine.id}' failed: {type(e).__name__}: {e}")
            )
        )
        return
    target = project.root / step.output
    try:
        atomic_write(target, data)
    except OSError as e:
        # Out of space or permission: every later line would fail the same way.
        hint = " (disk full)" if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        raise RefmgrError(
            f"cannot write{hint}: {e.strerror}; {len(result.rendered)} lines were rendered "
            "and locked, run again to resume",
            target,
        ) from None
    facts = facts_of(data)
    assert facts is not None
    result.facts[step.output] = facts
    result.rendered.append(step)
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
        with contextlib.suppress(FileNotFoundError):
            (project.root / output).unlink()
        result.facts.pop(output, None)
        result.removed.append(output)


def _remove_temporaries(directory: Path) -> None:
    # Left by a render killed mid-write; never a finished output (those have no dot prefix).
    for stray in directory.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            stray.unlink()
