"""``render --mix``: every line of the script in order, in one file, with pauses between."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from refmgr.audio import resample, wav_bytes
from refmgr.config import MAX_GAP_S
from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.project import Project
from refmgr.render.output import OutputFacts
from refmgr.render.plan import Plan, output_of


@dataclass(frozen=True)
class MixResult:
    path: Path
    lines: int
    duration_s: float
    sample_rate: int


def mix_outputs(
    project: Project,
    plan: Plan,
    facts: Mapping[str, OutputFacts],
    target: Path,
    *,
    gap_s: float,
) -> MixResult:
    """Join the outputs of every line; a line's ``gap`` override sets the pause after it."""
    import soundfile

    if not 0 <= gap_s <= MAX_GAP_S:
        raise RefmgrError(f"the gap must be between 0 and {MAX_GAP_S:g} seconds, not {gap_s}")
    absent = [s for s in plan.steps if output_of(s, facts) is None]
    if absent:
        raise RefmgrError(
            f"cannot mix: {len(absent)} of {len(plan.steps)} lines have no output "
            f"(first: {absent[0].line.label}); render them first",
            target,
        )
    if target.is_dir():
        raise RefmgrError("is a directory; give a file name such as episode.wav", target)
    parts: list[np.ndarray] = []
    rate = facts[plan.steps[0].output].sample_rate
    for i, step in enumerate(plan.steps):
        audio, line_rate = soundfile.read(project.root / step.output, dtype="float32")
        parts.append(resample(audio, line_rate, rate))
        if i < len(plan.steps) - 1:
            pause = step.line.overrides.get("gap", gap_s)
            parts.append(np.zeros(round(pause * rate), dtype=np.float32))
    audio = np.concatenate(parts)
    try:
        atomic_write(target, wav_bytes(audio, rate))
    except OSError as e:
        raise RefmgrError(f"cannot write the mix: {e.strerror}", target) from None
    return MixResult(
        path=target, lines=len(plan.steps), duration_s=round(len(audio) / rate, 3), sample_rate=rate
    )
