"""The .srt and .vtt beside a mix: one cue per line, exact to the millisecond."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from refmgr.deliver.subtitles import Cue, sample_ms, srt, vtt
from tests.support.cli import run_cli
from tests.support.deliver import mix_record, parse_cues, rendered_repo

RATE = 22050


def test_cues_match_the_mix_timeline(cast_repo: Path) -> None:
    rendered_repo(cast_repo)
    proc = run_cli("render", "mix", "ep.txt", "-o", "../scene.wav", "--gap", "0.3")
    assert proc.returncode == 0, proc.stderr
    lock = json.loads((cast_repo / "renders" / "ep.lock.json").read_text())
    mix, rate = soundfile.read(cast_repo.parent / "scene.wav", dtype="int16")
    assert rate == RATE
    # The timeline, built here from the line outputs the lock lists and the gaps (the
    # script's last line: {gap} overrides none here, 0.3 s between lines).
    position = 0
    expected = []
    for entry in lock["entries"]:
        line, line_rate = soundfile.read(cast_repo / entry["output"]["path"], dtype="int16")
        assert line_rate == RATE
        start, end = position, position + len(line)
        # The mix holds exactly this line's samples there, and silence after it.
        assert np.array_equal(mix[start:end], line)
        gap = round(0.3 * RATE) if entry is not lock["entries"][-1] else 0
        assert not mix[end : end + gap].any()
        expected.append((start, end, f"{entry['character']}: {entry['text']}"))
        position = end + gap
    assert position == len(mix)

    srt_cues = parse_cues((cast_repo.parent / "scene.srt").read_text(), ",")
    vtt_cues = parse_cues((cast_repo.parent / "scene.vtt").read_text(), ".")
    assert len(srt_cues) == len(vtt_cues) == len(expected) == 5
    for srt_cue, vtt_cue, (start, end, text) in zip(srt_cues, vtt_cues, expected, strict=True):
        for cue in (srt_cue, vtt_cue):
            # Exact to the millisecond: the nearest millisecond to each sample position.
            assert cue.start_ms == int(start * 1000 / RATE + 0.5)
            assert cue.end_ms == int(end * 1000 / RATE + 0.5)
            assert abs(cue.start_ms / 1000 - start / RATE) <= 0.0005
            assert cue.text == text
    assert srt_cues[1].text == "beta: Did you see the ship near the rocks?"
    record = mix_record(cast_repo.parent / "scene.wav")
    assert [(line["start_sample"], line["end_sample"]) for line in record["lines"]] == [
        (s, e) for s, e, _ in expected
    ]
    assert [line["id"] for line in record["lines"]] == ["0001", "ask", "0003", "0004", "end"]


def test_rounding_is_exact_for_long_mixes() -> None:
    # Ten hours at 44.1 kHz: float seconds would drift; integer arithmetic does not.
    rate = 44100
    for sample in (0, 1, 22, 23, 44099, 44100, 10 * 3600 * rate + 22):
        assert sample_ms(sample, rate) == (sample * 1000 * 2 + rate) // (2 * rate)
    assert sample_ms(22, rate) == 0  # 0.4988 ms
    assert sample_ms(23, rate) == 1  # 0.5215 ms
    last = Cue(10 * 3600 * rate, 10 * 3600 * rate + 441, "alpha", "Late.")
    assert "10:00:00,000 --> 10:00:00,010" in srt([last], rate)


def test_cue_text_stays_one_line_and_vtt_escapes_markup() -> None:
    cue = Cue(0, 22050, "alpha", "Tom & Jerry <3 --> run")
    assert srt([cue], RATE).splitlines()[2] == "alpha: Tom & Jerry <3 --> run"
    text = vtt([cue], RATE).splitlines()[4]
    assert text == "alpha: Tom &amp; Jerry &lt;3 --&gt; run"
    assert "-->" not in text
