from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile

from refmgr.project import open_project
from refmgr.reference import load_reference, read_codes
from refmgr.tokens import sha256_file
from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, git, one_line_error, snapshot


def test_add_writes_tokens_and_a_complete_manifest(
    voice_repo: Path, recording: RecordingFactory
) -> None:
    rec = recording("alpha.wav", seconds=12.0, sample_rate=22050, channels=2)
    proc = run_cli(
        "add", rec, "--text", "  The quick\n brown fox. ", "--language", "en-GB", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["name"] == "alpha" and result["frames"] == 600

    manifest = json.loads((voice_repo / "manifests" / "alpha.json").read_text())
    tokens = voice_repo / "refs" / "alpha.npy"
    assert manifest["transcript"] == "The quick brown fox."
    assert manifest["language"] == "en-GB"
    assert manifest["tokens"] == {
        "path": "refs/alpha.npy",
        "sha256": sha256_file(tokens),
        "bytes": tokens.stat().st_size,
        "dtype": "uint8",
        "shape": [8, 600],
    }
    assert manifest["codec"]["id"] == "codec2-3200"
    assert manifest["codec"]["library"]["name"] == "pycodec2"
    assert manifest["source"] == {
        "file": "alpha.wav",
        "sha256": sha256_file(rec),
        "bytes": rec.stat().st_size,
        "duration_s": 12.0,
        "sample_rate": 22050,
        "channels": 2,
    }
    assert 60 < manifest["voice"]["f0_median_hz"] < 250
    assert manifest["voice"]["speaking_rate_wpm"] > 0
    project = open_project(voice_repo)
    codes = read_codes(project, load_reference(project, "alpha"))
    assert codes.shape == (8, 600)


def test_30s_studio_wav_becomes_at_most_13_kb(
    voice_repo: Path, recording: RecordingFactory
) -> None:
    rec = recording("narrator.wav", seconds=30.0, sample_rate=44100, channels=2)
    assert rec.stat().st_size == pytest.approx(5.3e6, rel=0.01)
    assert run_cli("add", rec, "--text", "Narration.").returncode == 0
    size = (voice_repo / "refs" / "narrator.npy").stat().st_size
    assert size <= 13_000
    assert rec.stat().st_size / size > 400


def test_transcript_from_lab_then_txt(voice_repo: Path, recording: RecordingFactory) -> None:
    a = recording("a.wav", seconds=4.0)
    b = recording("b.flac", seconds=4.0)
    a.with_suffix(".lab").write_text("From the lab file.\n")
    a.with_suffix(".txt").write_text("Not this one.")
    b.with_suffix(".txt").write_text("\ufeffFrom the txt file.")
    assert run_cli("add", a, b).returncode == 0
    project = open_project(voice_repo)
    assert load_reference(project, "a").manifest.transcript == "From the lab file."
    assert load_reference(project, "b").manifest.transcript == "From the txt file."


def test_text_file_and_name(voice_repo: Path, recording: RecordingFactory, tmp_path: Path) -> None:
    rec = recording("take-3.ogg", seconds=4.0)
    text = tmp_path / "words.txt"
    text.write_text("Spoken words.")
    assert run_cli("add", rec, "--name", "bravo", "--text-file", text).returncode == 0
    manifest = load_reference(open_project(voice_repo), "bravo").manifest
    assert manifest.transcript == "Spoken words."
    assert manifest.data["source"]["file"] == "take-3.ogg"


def test_mp3_input(voice_repo: Path, recording: RecordingFactory) -> None:
    """An MP3 is decoded to the speech it holds: the same length and level as the same
    speech given as a WAV (an MP3 decoder adds at most a frame or two of padding)."""
    from refmgr.cli import main

    assert main(["add", str(recording("c.mp3", seconds=5.0)), "--text", "Compressed."]) == 0
    assert main(["add", str(recording("w.wav", seconds=5.0)), "--text", "Plain."]) == 0
    project = open_project(voice_repo)
    mp3, wav = (load_reference(project, name).manifest for name in ("c", "w"))
    assert abs(mp3.duration_s - wav.duration_s) < 0.06
    assert abs(mp3.token_expectation.shape[1] - wav.token_expectation.shape[1]) <= 3
    assert main(["decode", "c", "-o", str(voice_repo / "c.wav")]) == 0
    audio, _ = soundfile.read(voice_repo / "c.wav")
    assert float(np.sqrt(np.mean(audio**2))) > 0.02  # speech, not silence


def test_force_replaces_and_stage_stages(voice_repo: Path, recording: RecordingFactory) -> None:
    first = recording("alpha.wav", seconds=4.0)
    assert run_cli("add", first, "--text", "One.", "--stage").returncode == 0
    assert git(voice_repo, "diff", "--cached", "--name-only").split() == [
        "manifests/alpha.json",
        "refs/alpha.npy",
    ]
    git(voice_repo, "commit", "-qm", "alpha")
    second = recording("alpha2.wav", seconds=5.0, voice="en-us+f3")
    proc = run_cli("add", second, "--name", "alpha", "--text", "Two.", "--force", "--stage")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("replaced alpha:")
    manifest = load_reference(open_project(voice_repo), "alpha").manifest
    assert manifest.transcript == "Two."
    assert git(voice_repo, "diff", "--cached", "--name-status").split() == [
        "M",
        "manifests/alpha.json",
        "M",
        "refs/alpha.npy",
    ]


def test_several_recordings_in_one_call(voice_repo: Path, recording: RecordingFactory) -> None:
    recs = [recording(f"v{i}.wav", seconds=3.5 + i) for i in range(3)]
    for rec in recs:
        rec.with_suffix(".lab").write_text(f"Transcript of {rec.stem}.")
    proc = run_cli("add", *recs, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["name"] for r in json.loads(proc.stdout)] == ["v0", "v1", "v2"]


def test_warnings_for_short_and_clipped(voice_repo: Path, tmp_path: Path) -> None:
    rate = 16000
    t = np.arange(5 * rate) / rate
    loud = np.clip(3 * np.sin(2 * np.pi * 150 * t), -1, 1).astype(np.float32)
    path = tmp_path / "loud.wav"
    soundfile.write(path, loud, rate)
    proc = run_cli("add", path, "--text", "Loud.")
    assert proc.returncode == 0, proc.stderr
    assert "samples are clipped" in proc.stderr
    assert "only 5.0 s long" in proc.stderr


# --- bad input: one line naming the file, exit 1, repository unchanged -----------------


def float_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    soundfile.write(path, samples.astype(np.float32), rate, subtype="FLOAT")
    return path


BadCase = Callable[[Path, RecordingFactory], tuple[list[str], list[str]]]


def case_missing(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(tmp / "nope.wav"), "--text", "x"], ["nope.wav", "no such file"]


def case_directory(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    (tmp / "adir.wav").mkdir()
    return [str(tmp / "adir.wav"), "--text", "x"], ["adir.wav", "is a directory"]


def case_not_audio(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    (tmp / "notes.wav").write_text("these are not samples " * 100)
    return [str(tmp / "notes.wav"), "--text", "x"], ["notes.wav", "not a readable audio file"]


def case_truncated(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    good = rec("whole.wav", seconds=5.0)
    cut = tmp / "cut.wav"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return [str(cut), "--text", "x"], ["cut.wav", "truncated WAV"]


def case_corrupt_header(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    good = rec("whole.wav", seconds=5.0)
    data = bytearray(good.read_bytes())
    data[20:36] = b"\xff" * 16  # smash the fmt chunk
    bad = tmp / "smashed.wav"
    bad.write_bytes(bytes(data))
    return [str(bad), "--text", "x"], ["smashed.wav", "not a readable audio file"]


def case_zero_samples(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    path = float_wav(tmp / "empty.wav", np.zeros(0))
    return [str(path), "--text", "x"], ["empty.wav", "contains no audio samples"]


def case_nan(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    samples = np.sin(np.arange(16000 * 5) / 10.0)
    samples[1000] = math.nan
    path = float_wav(tmp / "nan.wav", samples)
    return [str(path), "--text", "x"], ["nan.wav", "NaN or infinite"]


def case_inf(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    samples = np.sin(np.arange(16000 * 5) / 10.0)
    samples[5] = math.inf
    path = float_wav(tmp / "inf.wav", samples)
    return [str(path), "--text", "x"], ["inf.wav", "NaN or infinite"]


def case_too_short(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("short.wav", seconds=1.0)), "--text", "x"], ["short.wav", "too short: 1.00 s"]


def case_too_long(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    path = rec("long.wav", seconds=91.0, sample_rate=8000)
    return [str(path), "--text", "x"], ["long.wav", "too long: 91.00 s"]


def case_silence(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    path = tmp / "quiet.wav"
    soundfile.write(path, np.zeros(16000 * 5, np.int16), 16000)
    return [str(path), "--text", "x"], ["quiet.wav", "is silent"]


def case_bad_name(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("ok.wav", seconds=4.0)), "--name", "Bad Name", "--text", "x"], [
        "ok.wav",
        "invalid reference name 'Bad Name'",
    ]


def case_bad_stem(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("Take 1.wav", seconds=4.0)), "--text", "x"], [
        "Take 1.wav",
        "choose one with --name",
    ]


def case_name_taken(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("existing.wav", seconds=4.0)), "--text", "x"], [
        "reference 'existing' already exists",
        "--force",
    ]


def case_no_transcript(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("mute.wav", seconds=4.0))], ["mute.wav", "no transcript", "mute.lab"]


def case_empty_transcript(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("e.wav", seconds=4.0)), "--text", "  \n"], ["e.wav", "transcript is empty"]


def case_unknown_codec(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("ok.wav", seconds=4.0)), "--text", "x", "--codec", "opus"], [
        "unknown codec 'opus'",
        "codec2-3200",
    ]


def case_one_bad_among_good(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    good = rec("good.wav", seconds=4.0)
    good.with_suffix(".lab").write_text("Good.")
    bad = rec("shorty.wav", seconds=1.0)
    bad.with_suffix(".lab").write_text("Bad.")
    return [str(good), str(bad)], ["shorty.wav", "too short"]


def case_bad_language(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("ok.wav", seconds=4.0)), "--text", "x", "--language", "english"], [
        "invalid language tag 'english'",
        "en-GB",
    ]


def case_language_with_newline(tmp: Path, rec: RecordingFactory) -> tuple[list[str], list[str]]:
    return [str(rec("ok.wav", seconds=4.0)), "--text", "x", "--language", "en\n"], [
        "invalid language tag 'en\\n'"
    ]


BAD_CASES = [
    case_missing,
    case_directory,
    case_not_audio,
    case_truncated,
    case_corrupt_header,
    case_zero_samples,
    case_nan,
    case_inf,
    case_too_short,
    case_too_long,
    case_silence,
    case_bad_name,
    case_bad_stem,
    case_name_taken,
    case_no_transcript,
    case_empty_transcript,
    case_unknown_codec,
    case_bad_language,
    case_language_with_newline,
    case_one_bad_among_good,
]


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.__name__[5:])
def test_bad_input_changes_nothing(
    case: BadCase, voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    existing = recording("existing.wav", seconds=4.0)
    assert run_cli("add", existing, "--text", "Already here.").returncode == 0
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "existing")
    args, needles = case(tmp_path, recording)
    before = snapshot(voice_repo)
    proc = run_cli("add", *args)
    assert proc.returncode == 1, proc.stderr
    assert one_line_error(proc.stderr, *needles), proc.stderr
    assert snapshot(voice_repo) == before


def without_root_powers() -> list[str]:
    """A command prefix under which permission bits apply, even when the tests run as root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_refs_not_writable(voice_repo: Path, recording: RecordingFactory) -> None:
    rec = recording("ro.wav", seconds=4.0)
    (voice_repo / "refs").chmod(0o555)
    try:
        before = snapshot(voice_repo)
        proc = subprocess.run(
            [
                *without_root_powers(),
                sys.executable,
                "-m",
                "refmgr",
                "add",
                str(rec),
                "--text",
                "x",
            ],
            cwd=voice_repo,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        assert one_line_error(proc.stderr, "refs", "directory is not writable"), proc.stderr
        assert snapshot(voice_repo) == before
    finally:
        (voice_repo / "refs").chmod(0o755)


def test_outside_a_voice_repository(tmp_path: Path, recording: RecordingFactory) -> None:
    rec = recording("x.wav", seconds=4.0)
    proc = run_cli("add", rec, "--text", "x", cwd=tmp_path)
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "not inside a refmgr voice repository", "refmgr init")
