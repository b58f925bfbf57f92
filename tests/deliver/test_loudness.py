"""`render mix --loudness`: the mix measured with pyloudnorm meets its target."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile
from scipy.signal import resample_poly

from refmgr.deliver.loudness import PRESETS, parse_target
from refmgr.errors import RefmgrError
from refmgr.render.mix import Part, mix
from tests.support.cli import run_cli
from tests.support.deliver import mix_record, rendered_repo
from tests.support.helpers import snapshot


def _true_peak_db(audio: np.ndarray, rate: int) -> float:
    over = resample_poly(audio, 192000 // rate + 1, 1)
    return float(20 * np.log10(np.max(np.abs(over))))


def _lufs(audio: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(audio.astype(np.float64)))


@pytest.mark.parametrize(
    ("preset", "name"),
    [("podcast", "p.wav"), ("broadcast", "b.flac"), ("podcast", "p.mp3"), ("-14:-2", "c.ogg")],
)
def test_loudness_targets_are_met(cast_repo: Path, preset: str, name: str) -> None:
    rendered_repo(cast_repo)
    proc = run_cli("render", "mix", "ep.txt", "-o", f"../{name}", "--loudness", preset, "--json")
    assert proc.returncode == 0, proc.stderr
    target = parse_target(preset)
    audio, rate = soundfile.read(io.BytesIO((cast_repo.parent / name).read_bytes()))
    assert abs(_lufs(audio, rate) - target.level) <= 0.5
    # Lossy encoders move peaks a little; a lossless file keeps the ceiling exactly.
    slack = 0.05 if name.endswith((".wav", ".flac")) else 0.6
    assert _true_peak_db(audio, rate) <= target.peak_db + slack
    record = mix_record(cast_repo.parent / name)
    assert record["loudness"]["target"] == target.to_json()
    measured = record["loudness"]["measured"]
    assert abs(measured["integrated_lufs"] - _lufs(audio, rate)) <= 0.05
    assert json.loads(proc.stdout)["loudness"] == record["loudness"]


def test_audiobook_meets_acx(cast_repo: Path) -> None:
    rendered_repo(cast_repo)
    proc = run_cli("render", "mix", "ep.txt", "-o", "../book.flac", "--loudness", "audiobook")
    assert proc.returncode == 0, proc.stderr
    assert "noise floor" in proc.stdout
    audio, rate = soundfile.read(cast_repo.parent / "book.flac")
    rms = 20 * np.log10(np.sqrt(np.mean(np.square(audio))))
    assert abs(rms - PRESETS["audiobook"].level) <= 0.5 and -23 <= rms <= -18
    assert _true_peak_db(audio, rate) <= -3.0 + 0.05
    measured = mix_record(cast_repo.parent / "book.flac")["loudness"]["measured"]
    # The gaps between lines are digital silence: the floor is as low as it is reported.
    assert measured["noise_floor_db"] == -120.0
    assert abs(measured["rms_db"] - rms) <= 0.05


def test_characters_are_levelled_before_the_mix_is_normalized(
    cast_repo: Path, tmp_path: Path
) -> None:
    rendered_repo(cast_repo)
    lock = json.loads((cast_repo / "renders" / "ep.lock.json").read_text())
    parts = []
    for entry in lock["entries"]:
        audio, rate = soundfile.read(cast_repo / entry["output"]["path"], dtype="float32")
        if entry["character"] == "beta":
            audio = audio * 0.25  # beta recorded 12 dB quieter
        buf = io.BytesIO()
        soundfile.write(buf, audio, rate, format="WAV", subtype="FLOAT")
        parts.append(Part(buf.getvalue(), 0.3, entry["id"], entry["character"], entry["text"]))

    def spread(path: Path) -> float:
        audio, rate = soundfile.read(path)
        voices: dict[str, list[np.ndarray]] = {}
        for line in mix_record(path)["lines"]:
            voices.setdefault(line["character"], []).append(
                audio[line["start_sample"] : line["end_sample"]]
            )
        levels = [_lufs(np.concatenate(v), rate) for v in voices.values()]
        return max(levels) - min(levels)

    mix(parts, tmp_path / "plain.wav")
    result = mix(parts, tmp_path / "podcast.wav", loudness=PRESETS["podcast"])
    before = spread(tmp_path / "plain.wav")
    assert before > 8
    # Levelled to the same loudness; the limiter then touches each voice's peaks a little
    # differently (seen: 0.5 LU apart at -16 LUFS, from 10 LU).
    assert spread(tmp_path / "podcast.wav") < 1.0
    assert result.loudness is not None
    gains = result.loudness.gains_db
    assert abs(gains["beta"] - gains["alpha"] - before) < 0.5
    assert abs(_lufs(soundfile.read(tmp_path / "podcast.wav")[0], 22050) + 16) <= 0.5


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("loud", "neither a preset (podcast, broadcast, audiobook) nor LUFS[:DBTP]"),
        ("-60", "-60 LUFS is outside -40..-5"),
        ("-16:3", "a true-peak ceiling of 3 dBTP is outside -12..0"),
        ("nan", "nan LUFS is outside"),
    ],
)
def test_bad_targets_are_usage_errors(cast_repo: Path, value: str, problem: str) -> None:
    rendered_repo(cast_repo)
    before = snapshot(cast_repo)
    proc = run_cli("render", "mix", "ep.txt", "-o", "x.wav", f"--loudness={value}")
    assert proc.returncode == 2 and problem in proc.stderr, proc.stderr
    assert snapshot(cast_repo) == before
    with pytest.raises(RefmgrError, match="--loudness"):
        parse_target(value)


def test_silence_cannot_be_normalized(tmp_path: Path) -> None:
    buf = io.BytesIO()
    soundfile.write(buf, np.zeros(22050, dtype=np.float32), 22050, format="WAV")
    with pytest.raises(RefmgrError, match="too short or too quiet"):
        mix(
            [Part(buf.getvalue(), 0.0, "1", "alpha", "...")],
            tmp_path / "s.wav",
            loudness=PRESETS["podcast"],
        )
    assert not (tmp_path / "s.wav").exists()


def test_a_target_the_ceiling_leaves_no_room_for_fails(cast_repo: Path) -> None:
    rendered_repo(cast_repo)
    proc = run_cli("render", "mix", "ep.txt", "-o", "../hot.wav", "--loudness", "-6:-3")
    assert proc.returncode == 1
    assert "../hot.wav: misses the loudness target custom (-6, -3 dBTP)" in proc.stderr
    record = mix_record(cast_repo.parent / "hot.wav")
    assert record["loudness"]["met"] is False
    audio, rate = soundfile.read(cast_repo.parent / "hot.wav")
    assert _true_peak_db(audio, rate) <= -3.0 + 0.05  # the ceiling still holds
