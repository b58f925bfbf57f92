"""Every line of a script in order, in one file, with pauses between.

Two ways in: ``render --mix`` mixes what the render just made (the plan says which file is
each line's); ``render mix`` mixes from the lock and the output files alone, each checked
against the sha256 the lock records, so that a machine without the engine (a CI job on a
CPU runner, after ``render merge``) can join what GPU jobs rendered.

Beside the mix go its subtitles (NAME.srt, NAME.vtt: one cue per line, from the sample
positions) and its record (NAME.mix.json: where each line sits, and with ``--loudness``
the target, each character's levelling gain and the loudness measured on the written
file). The format is the output's suffix (deliver/formats.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.audio import resample
from refmgr.config import MAX_GAP_S, RenderSettings
from refmgr.deliver.formats import AudioFormat, encode, format_for
from refmgr.deliver.loudness import LoudnessTarget, Measurement
from refmgr.deliver.subtitles import Cue, sample_ms, srt, vtt
from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write, remove_temporaries
from refmgr.params import PARAM_TYPES
from refmgr.project import Project, repo_relative
from refmgr.render.output import SUFFIX, OutputFacts
from refmgr.render.plan import Plan, output_of, synthesis_params
from refmgr.render.script import Script, ScriptLine

RECORD_VERSION = 1
LOSSY_HEADROOM_DB = 0.5


@dataclass(frozen=True)
class Loudness:
    target: LoudnessTarget
    # On the file as written where the format is lossy (an encoder moves peaks); else on
    # the samples before rounding to 16 bits.
    measured: Measurement
    gains_db: dict[str, float]  # each character's levelling gain, before normalizing

    @property
    def met(self) -> bool:
        return self.measured.meets(self.target)


@dataclass(frozen=True)
class MixResult:
    path: Path
    lines: int
    duration_s: float
    sample_rate: int
    format: str = "wav"
    subtitles: tuple[Path, ...] = ()
    record: Path | None = None
    loudness: Loudness | None = None

    def to_json(self) -> dict[str, Any]:
        loudness = self.loudness
        return {
            "mix": repo_relative(self.path),
            "format": self.format,
            "lines": self.lines,
            "duration_s": self.duration_s,
            "sample_rate": self.sample_rate,
            "subtitles": [repo_relative(p) for p in self.subtitles],
            "record": None if self.record is None else repo_relative(self.record),
            "loudness": None
            if loudness is None
            else {
                "target": loudness.target.to_json(),
                "measured": loudness.measured.to_json(),
                "character_gain_db": loudness.gains_db,
                "met": loudness.met,
            },
        }


@dataclass(frozen=True)
class Part:
    audio: bytes  # a WAV file's bytes
    gap_s: float  # silence after it (not after the last part)
    label: str = ""  # the line's id
    character: str = ""
    text: str = ""


def mix_outputs(
    project: Project,
    plan: Plan,
    facts: Mapping[str, OutputFacts],
    target: Path,
    *,
    gap_s: float,
    loudness: LoudnessTarget | None = None,
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
        parts.append(_part(data, step.line, gap_s))
    return mix(parts, target, loudness=loudness, script=plan.script.source)


def mix_locked(
    project: Project,
    script: Script,
    lock: Mapping[str, Any],
    target: Path,
    *,
    gap_s: float,
    loudness: LoudnessTarget | None = None,
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
        parts.append(_part(data, line, gap_s))
    return mix(parts, target, loudness=loudness, script=script.source)


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


def _part(data: bytes, line: ScriptLine, default_gap: float) -> Part:
    gap = line.overrides.get("gap", default_gap)
    return Part(data, gap, label=line.label, character=line.character, text=line.text)


def _check_gap(gap_s: float) -> None:
    if not 0 <= gap_s <= MAX_GAP_S:
        raise RefmgrError(f"the gap must be between 0 and {MAX_GAP_S:g} seconds, not {gap_s}")


def mix(
    parts: Sequence[Part],
    target: Path,
    *,
    loudness: LoudnessTarget | None = None,
    script: str = "",
) -> MixResult:
    """Write ``parts`` one after the other to ``target``, at the first part's sample rate,
    with subtitles and a record beside it; with ``loudness``, levelled and normalized."""
    import soundfile

    for part in parts[:-1]:
        _check_gap(part.gap_s)
    if target.is_dir():
        raise RefmgrError("is a directory; give a file name such as episode.wav", target)
    if not target.parent.is_dir():
        raise RefmgrError("directory does not exist", target.parent)
    fmt = format_for(target)  # before any work: a typo in the name fails at once
    lines: list[np.ndarray] = []
    rate = 0
    for part in parts:
        audio, part_rate = soundfile.read(io.BytesIO(part.audio), dtype="float32")
        rate = rate or part_rate
        lines.append(resample(audio, part_rate, rate))
    gains: dict[str, float] = {}
    if loudness is not None:
        lines, gains = _levelled(parts, lines, rate, loudness)
    pieces: list[np.ndarray] = []
    cues: list[Cue] = []
    position = 0
    for i, (part, audio) in enumerate(zip(parts, lines, strict=True)):
        cues.append(Cue(position, position + len(audio), part.character, part.text))
        pieces.append(audio)
        position += len(audio)
        if i < len(parts) - 1:
            silence = round(part.gap_s * rate)
            pieces.append(np.zeros(silence, dtype=np.float32))
            position += silence
    mixed = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    result_loudness = None
    if loudness is None:
        data = encode(mixed, rate, fmt, target)
    else:
        mixed, data, result_loudness = _normalized(mixed, rate, fmt, target, loudness, gains)
    srt_path, vtt_path = target.with_suffix(".srt"), target.with_suffix(".vtt")
    record_path = target.with_suffix(".mix.json")
    result = MixResult(
        path=target,
        lines=len(parts),
        duration_s=round(len(mixed) / rate, 3),
        sample_rate=rate,
        format=fmt.name,
        subtitles=(srt_path, vtt_path),
        record=record_path,
        loudness=result_loudness,
    )
    record = _record(result, parts, cues, len(mixed), script)
    files = [
        (target, data),
        (srt_path, srt(cues, rate).encode("utf-8")),
        (vtt_path, vtt(cues, rate).encode("utf-8")),
        (record_path, (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")),
    ]
    for path, content in files:
        remove_temporaries(path)  # of a mix killed midway; callers hold the render lock
        try:
            atomic_write(path, content)
        except OSError as e:
            raise RefmgrError(f"cannot write the mix: {e.strerror}", path) from None
    return result


def _normalized(
    mixed: np.ndarray,
    rate: int,
    fmt: AudioFormat,
    target: Path,
    loudness: LoudnessTarget,
    gains: dict[str, float],
) -> tuple[np.ndarray, bytes, Loudness]:
    """The mix at ``loudness``, encoded, and what the encoded file measures. A lossy
    encoder moves peaks (often up by tenths of a dB): the ceiling holds for the file
    delivered, so where it is passed the mix is made again under a lower ceiling."""
    import soundfile

    from refmgr.deliver.loudness import measure, normalize

    # Lossy encoders raise peaks by tenths of a dB: aim under the ceiling from the start
    # (usually one pass, not two).
    headroom = LOSSY_HEADROOM_DB if fmt.lossy else 0.0
    aim = dataclasses.replace(loudness, peak_db=loudness.peak_db - headroom)
    for _ in range(3):
        out, measured = normalize(mixed, rate, aim)
        data = encode(out, rate, fmt, target)
        if not fmt.lossy:
            break  # the file holds these samples, rounded to 16 bits: thousandths of a dB
        written, _ = soundfile.read(io.BytesIO(data), dtype="float32")
        measured = measure(written, rate)
        over = measured.true_peak_db - loudness.peak_db
        if over <= 0.0:
            break
        aim = dataclasses.replace(aim, peak_db=aim.peak_db - over - 0.05)
    return out, data, Loudness(loudness, measured, gains)


def _levelled(
    parts: Sequence[Part], lines: list[np.ndarray], rate: int, loudness: LoudnessTarget
) -> tuple[list[np.ndarray], dict[str, float]]:
    """Each character's lines brought to one loudness, so that no voice is louder than
    another in the mix (the mix as a whole is normalized afterwards)."""
    from refmgr.deliver.loudness import apply_gain, level_gains

    voices: dict[str, list[np.ndarray]] = {}
    for part, audio in zip(parts, lines, strict=True):
        voices.setdefault(part.character, []).append(audio)
    reference = loudness.level if loudness.measure == "lufs" else -23.0
    gains = level_gains(voices, rate, reference)
    levelled = [apply_gain(a, gains[p.character]) for p, a in zip(parts, lines, strict=True)]
    return levelled, {k: round(v, 2) for k, v in sorted(gains.items())}


def _record(
    result: MixResult, parts: Sequence[Part], cues: Sequence[Cue], samples: int, script: str
) -> dict[str, Any]:
    rate = result.sample_rate
    record: dict[str, Any] = {
        "mix_version": RECORD_VERSION,
        "script": script,
        "audio": result.path.name,
        "format": result.format,
        "sample_rate": rate,
        "samples": samples,
        "duration_s": result.duration_s,
        "subtitles": [p.name for p in result.subtitles],
        "loudness": None,
        "lines": [
            {
                "id": part.label,
                "character": part.character,
                "start_sample": cue.start,
                "end_sample": cue.end,
                "start_ms": sample_ms(cue.start, rate),
                "end_ms": sample_ms(cue.end, rate),
            }
            for part, cue in zip(parts, cues, strict=True)
        ],
    }
    if result.loudness is not None:
        record["loudness"] = {
            "target": result.loudness.target.to_json(),
            "measured": result.loudness.measured.to_json(),
            "character_gain_db": result.loudness.gains_db,
            "met": result.loudness.met,
        }
    return record
