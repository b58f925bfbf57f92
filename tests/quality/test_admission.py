"""`refmgr add` admits references on measured quality (real scorers, real audio).

Each bad recording is built from a clean fixture voice: clipped (4x gain), noisy (white
noise at 10 dB SNR), mostly silent (10 s of near-silence after 5 s of speech) and two
speakers (slt then rms). Each is refused with one `file: problem (measured X, limit Y)`
line per broken limit, and the repository is left exactly as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from refmgr.manifest import load_manifest
from refmgr.quality.reference import embedding_source, reference_embedding, reference_measures
from tests.quality.conftest import QA, RATE, VOICES, Audio, clip, transcript, without_qa
from tests.support.cli import run_cli
from tests.support.helpers import snapshot

MESSAGE = re.compile(r"^(?P<file>\S+): (?P<problem>.+) \(measured (?P<x>[^,]+), limit (?P<y>.+)\)$")


def write(path: Path, audio: Audio, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, RATE, subtype="PCM_16")
    path.with_suffix(".lab").write_text(text + "\n")
    return path


def _clipped(tmp: Path) -> Path:
    audio, _ = clip("slt_a")
    return write(tmp / "clipped.wav", np.clip(audio * 4.0, -1.0, 1.0), transcript("slt_a"))


def _noisy(tmp: Path) -> Path:
    audio, _ = clip("slt_a")
    speech_power = float(np.mean(audio[np.abs(audio) > 0.01] ** 2))
    noise = np.random.default_rng(7).standard_normal(len(audio)) * np.sqrt(speech_power / 10)
    return write(tmp / "noisy.wav", np.clip(audio + noise, -1, 1), transcript("slt_a"))


def _mostly_silent(tmp: Path) -> Path:
    audio, _ = clip("slt_a")
    hiss = np.random.default_rng(7).standard_normal(10 * RATE) * 1e-4
    return write(tmp / "silent.wav", np.concatenate([audio, hiss]), transcript("slt_a"))


def _two_speakers(tmp: Path) -> Path:
    audio = np.concatenate([clip("slt_a")[0], clip("rms_b")[0]])
    return write(tmp / "two.wav", audio, transcript("slt_a") + " " + transcript("rms_b"))


BAD: dict[str, tuple[Callable[[Path], Path], str]] = {
    "clipped": (_clipped, "clipped samples too high"),
    "noisy": (_noisy, "signal-to-noise ratio too low"),
    "mostly-silent": (_mostly_silent, "speech ratio too low"),
    "two-speakers": (_two_speakers, "single-speaker consistency too low"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_recording_is_refused_and_nothing_is_written(
    case: str, voice_repo: Path, tmp_path: Path
) -> None:
    make, problem = BAD[case]
    recording = make(tmp_path / "recordings")
    before = snapshot(voice_repo)
    proc = run_cli("add", recording, env=QA)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    parsed = [MESSAGE.match(line) for line in lines]
    assert all(parsed), lines  # every line: file: problem (measured X, limit Y)
    assert {m["file"] for m in parsed if m} == {str(recording)}
    assert any(m["problem"] == problem for m in parsed if m), lines
    assert all("quality.reference." in m["y"] for m in parsed if m)
    assert snapshot(voice_repo) == before


def clean_recording(tmp: Path, voice: str) -> Path:
    """Both sentences of a fixture voice with a breath between: ~10 s, as references go."""
    pause = np.zeros(int(0.3 * RATE), dtype=np.float32)
    audio = np.concatenate([clip(f"{voice}_a")[0], pause, clip(f"{voice}_b")[0]])
    return write(
        tmp / f"{voice}.wav", audio, f"{transcript(voice + '_a')} {transcript(voice + '_b')}"
    )


def test_the_clean_fixture_voices_are_admitted_with_their_measures(
    voice_repo: Path, tmp_path: Path
) -> None:
    recordings = [clean_recording(tmp_path / "recordings", v) for v in VOICES]
    proc = run_cli("add", *recordings, "--json", env=QA)
    assert proc.returncode == 0, proc.stderr
    assert "measured" not in proc.stderr  # not even a warning
    results = json.loads(proc.stdout)
    embeddings = {}
    for voice, result in zip(VOICES, results, strict=True):
        manifest = load_manifest(voice_repo / result["manifest"])
        measures = reference_measures(manifest)
        assert measures == result["quality"]
        assert measures["speech_ratio"] > 0.9
        assert measures["speaker_consistency"] > 0.85
        assert 10 < measures["chars_per_second"] < 18
        assert embedding_source(manifest) == "recording"
        embedding = reference_embedding(manifest)
        assert embedding is not None and embedding.shape == (256,)
        embeddings[voice] = embedding
        pins = manifest.data["quality"]["pins"]
        assert pins["resemblyzer/pretrained.pt"].startswith("sha256:")
    # The stored embeddings still tell the voices apart.
    sims = [float(embeddings[a] @ embeddings[b]) for a in VOICES for b in VOICES if a < b]
    assert max(sims) < 0.85
    assert run_cli("validate").returncode == 0


@pytest.mark.no_qa
def test_without_the_extra_add_works_as_before_and_quality_asks_for_it(
    voice_repo: Path, tmp_path: Path
) -> None:
    recording = clean_recording(tmp_path / "recordings", "kal")
    before = snapshot(voice_repo)
    proc = without_qa("add", recording, "--quality")
    assert proc.returncode == 2, proc.stderr
    assert "install refmgr[qa]" in proc.stderr
    assert snapshot(voice_repo) == before

    proc = without_qa("add", recording)
    assert proc.returncode == 0, proc.stderr
    assert "quality" not in load_manifest(voice_repo / "manifests" / "kal.json").data


def test_one_refused_recording_stops_the_batch_and_gate_false_only_warns(
    voice_repo: Path, tmp_path: Path
) -> None:
    good = clean_recording(tmp_path / "recordings", "awb")
    bad = _two_speakers(tmp_path / "recordings")
    before = snapshot(voice_repo)
    proc = run_cli("add", good, bad, env=QA)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"{bad}: single-speaker consistency too low (measured ")
    assert snapshot(voice_repo) == before

    config = voice_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("gate = true", "gate = false"))
    proc = run_cli("add", good, bad, env=QA)
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {bad}: single-speaker consistency too low (measured " in proc.stderr
    assert (voice_repo / "manifests" / "two.json").is_file()
