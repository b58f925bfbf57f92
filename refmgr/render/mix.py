"""Every line of a script in order, in one file, with pauses between.

Two ways in: ``render --mix`` mixes what the render just made (the plan says which file is
each line's); ``render mix`` mixes from the lock and the output files alone, each checked
against the sha256 the lock records, so that a machine without the engine (a CI job on a
CPU runner, after ``render merge``) can join what GPU jobs rendered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.audio import resample, wav_bytes
from refmgr.config import MAX_GAP_S, RenderSettings
from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write, remove_temporaries
from refmgr.params import PARAM_TYPES
from refmgr.project import Project, repo_relative
from refmgr.render.output import SUFFIX, OutputFacts
from refmgr.render.plan import Plan, output_of, synthesis_params
from refmgr.render.script import Script, ScriptLine


@dataclass(frozen=True)
class MixResult:
    path: Path
    lines: int
    duration_s: float
    sample_rate: int

    def to_json(self) -> dict[str, Any]:
        return {
            "mix": repo_relative(self.path),
            "lines": self.lines,
            "duration_s": self.duration_s,
            "sample_rate": self.sample_rate,
        }


@dataclass(frozen=True)
class Part:
    audio: bytes  # a WAV file's bytes
    gap_s: float  # silence after it (not after the last part)


def mix_outputs(
    project: Project,
    plan: Plan,
    facts: Mapping[str, OutputFacts],
    target: Path,
    *,
    gap_s: float,
) -> MixResult:
    """Join the outputs of every line of ``plan`` (``facts``: the outputs on disk)."""
    _check_gap(gap_s)
    absent = [s for s in plan.steps if output_of(s, facts) is None]
    if absent:
        raise RefmgrError(
            f"cannot mix: {len(absent)} of {len(plan.steps)} lines have no output "
            f"(first: {absent[0].line.label}); render them first",
            target,
        )
    parts = []
    for step in plan.steps:
        path = project.root / step.output
        try:
            data = path.read_bytes()
        except OSError as e:
            raise RefmgrError(f"cannot read: {e.strerror}", path) from None
        parts.append(Part(data, _gap(step.line, gap_s)))
    return mix(parts, target)


def mix_locked(
    project: Project,
    script: Script,
    lock: Mapping[str, Any],
    target: Path,
    *,
    gap_s: float,
) -> MixResult:
    """Join the outputs ``lock`` (read_lock checked its shape) records for ``script``,
    each checked against its locked sha256. No engine: the lock says what each line is."""
    _check_gap(gap_s)
    missing = lock["missing"]
    if missing:
        raise RefmgrError(
            f"cannot mix: {len(missing)} of {lock['lines']} lines have no output (first: "
            f"{missing[0]['id']}); render them first",
            target,
        )
    entries = {entry["index"]: entry for entry in lock["entries"]}
    if lock["lines"] != len(script.lines) or len(entries) != len(script.lines):
        raise RefmgrError(
            f"the script has {len(script.lines)} lines, its lock {lock['lines']}: the script "
            "changed since it was rendered; render it first",
            script.path,
        )
    outputs_dir = f"{project.config.paths.renders}/{script.name}"
    parts = []
    for line in script.lines:
        entry = entries.get(line.index)
        if entry is None or not _locked_as(line, entry, project.config.render, outputs_dir):
            raise RefmgrError(
                f"line {line.label} (line {line.line}) changed since the lock was written; "
                "render the script first",
                script.path,
            )
        path = project.root / entry["output"]["path"]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RefmgrError(
                "listed by the lock but missing: bring renders/ together (or render the "
                "script) first",
                path,
            ) from None
        except OSError as e:
            raise RefmgrError(f"cannot read: {e.strerror}", path) from None
        if hashlib.sha256(data).hexdigest() != entry["output"]["sha256"]:
            raise RefmgrError(
                "does not match the sha256 its lock records; render the script again", path
            )
        parts.append(Part(data, _gap(line, gap_s)))
    return mix(parts, target)


def _locked_as(
    line: ScriptLine, entry: Mapping[str, Any], settings: RenderSettings, outputs_dir: str
) -> bool:
    """Whether ``entry`` is what rendering ``line`` now would lock, as far as can be told
    without the engine: text, character, output, and the parameters the script and
    refmgr.toml decide (the seed of a line without its own came from --seed, or not)."""
    params = dataclasses.asdict(synthesis_params(settings, line.overrides))
    if "seed" not in line.overrides:
        params.pop("seed")
    return (
        entry["text"] == line.text
        and entry["character"] == line.character
        and entry["output"]["path"] == f"{outputs_dir}/{line.stem}{SUFFIX}"
        and all(entry["params"].get(k) == PARAM_TYPES[k](v) for k, v in params.items())
    )


def _gap(line: ScriptLine, default: float) -> float:
    return line.overrides.get("gap", default)


def _check_gap(gap_s: float) -> None:
    if not 0 <= gap_s <= MAX_GAP_S:
        raise RefmgrError(f"the gap must be between 0 and {MAX_GAP_S:g} seconds, not {gap_s}")


def mix(parts: Sequence[Part], target: Path) -> MixResult:
    """Write ``parts`` one after the other to ``target``, at the first part's sample rate."""
    import soundfile

    for part in parts[:-1]:
        _check_gap(part.gap_s)
    if target.is_dir():
        raise RefmgrError("is a directory; give a file name such as episode.wav", target)
    if not target.parent.is_dir():
        raise RefmgrError("directory does not exist", target.parent)
    audio_parts: list[np.ndarray] = []
    rate = 0
    for i, part in enumerate(parts):
        audio, part_rate = soundfile.read(io.BytesIO(part.audio), dtype="float32")
        rate = rate or part_rate
        audio_parts.append(resample(audio, part_rate, rate))
        if i < len(parts) - 1:
            audio_parts.append(np.zeros(round(part.gap_s * rate), dtype=np.float32))
    audio = np.concatenate(audio_parts)
    remove_temporaries(target)  # of a mix killed midway; callers hold the render lock
    try:
        atomic_write(target, wav_bytes(audio, rate))
    except OSError as e:
        raise RefmgrError(f"cannot write the mix: {e.strerror}", target) from None
    return MixResult(
        path=target, lines=len(parts), duration_s=round(len(audio) / rate, 3), sample_rate=rate
    )
