"""`render mix -o NAME.EXT`: the suffix picks the format; each reads back at full length."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import soundfile

from tests.support.cli import run_cli
from tests.support.deliver import mix_record, rendered_repo
from tests.support.helpers import one_line_error, snapshot


def _line_frames(root: Path) -> list[int]:
    return [soundfile.info(p).frames for p in sorted((root / "renders" / "ep").glob("*.wav"))]


@pytest.mark.parametrize(
    ("name", "container", "subtype"),
    [
        ("episode.wav", "WAV", "PCM_16"),
        ("episode.flac", "FLAC", "PCM_16"),
        ("episode.ogg", "OGG", "VORBIS"),
        ("episode.mp3", "MP3", "MPEG_LAYER_III"),
        ("EPISODE.MP3", "MP3", "MPEG_LAYER_III"),
    ],
)
def test_each_format_reads_back_with_the_mix_length(
    cast_repo: Path, name: str, container: str, subtype: str
) -> None:
    rendered_repo(cast_repo)
    proc = run_cli("render", "mix", "ep.txt", "-o", f"../{name}", "--gap", "0.25")
    assert proc.returncode == 0, proc.stderr
    target = cast_repo.parent / name
    info = soundfile.info(target)
    assert (info.format, info.subtype) == (container, subtype)
    record = mix_record(target)
    expected = sum(_line_frames(cast_repo)) + 4 * round(0.25 * 22050)
    assert record["samples"] == expected
    audio, rate = soundfile.read(io.BytesIO(target.read_bytes()), dtype="float32")
    assert rate == 22050 and len(audio) == expected
    assert audio.any()
    assert (cast_repo.parent / name).with_suffix(".srt").is_file()
    assert (cast_repo.parent / name).with_suffix(".vtt").is_file()


def test_lossless_formats_hold_the_same_samples(cast_repo: Path) -> None:
    rendered_repo(cast_repo)
    for name in ("a.wav", "a.flac"):
        assert run_cli("render", "mix", "ep.txt", "-o", f"../{name}").returncode == 0
    wav, _ = soundfile.read(cast_repo.parent / "a.wav", dtype="int16")
    flac, _ = soundfile.read(cast_repo.parent / "a.flac", dtype="int16")
    assert (wav == flac).all()


def test_an_unknown_suffix_is_refused_before_anything_is_written(cast_repo: Path) -> None:
    rendered_repo(cast_repo)
    before = snapshot(cast_repo)
    proc = run_cli("render", "mix", "ep.txt", "-o", "episode.aac")
    assert proc.returncode == 1
    assert one_line_error(
        proc.stderr, "episode.aac: cannot tell the audio format from the name: use .flac"
    )
    assert snapshot(cast_repo) == before
    proc = run_cli("render", "ep.txt", "--mix", "episode")
    assert proc.returncode == 1 and one_line_error(proc.stderr, "episode: cannot tell")
    assert snapshot(cast_repo) == before


def test_render_with_mix_and_loudness_in_one_go(cast_repo: Path) -> None:
    proc = run_cli("render", "ep.txt", "--mix", "../ep.flac", "--loudness", "broadcast", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["mix"] == "../ep.flac"
    details = summary["mix_details"]
    assert details["format"] == "flac" and details["loudness"]["met"] is True
    assert details["subtitles"] == ["../ep.srt", "../ep.vtt"]
    assert details["record"] == "../ep.mix.json"
    assert mix_record(cast_repo.parent / "ep.flac")["loudness"]["target"]["level"] == -23.0
