"""fish-s1 end to end on a tiny random-weight checkpoint: the real fish-speech code on CPU."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

import refmgr.backends.fish._adapter as adapter
from refmgr.backends.base import VoiceReference
from refmgr.backends.registry import ENGINES
from refmgr.checkpoints import RunOptions, open_engine
from refmgr.commands.add import add_references
from refmgr.params import SynthesisParams
from refmgr.project import open_project
from refmgr.reference import load_reference, read_codes, voice_reference
from refmgr.tokens import sha256_file
from tests.fish.conftest import TinyCheckpoint
from tests.support import fishkit
from tests.support.cli import run_cli, top_level_imports
from tests.support.helpers import RecordingFactory, git

TEXT = "Good morning, and welcome aboard."
PARAMS = SynthesisParams(
    seed=7, temperature=0.7, top_p=0.7, repetition_penalty=1.2, max_new_tokens=12
)


@pytest.fixture
def alpha(s1_repo: Path, recording: RecordingFactory) -> Path:
    rec = recording("alpha.wav", seconds=3.3, sample_rate=22050, channels=2)
    proc = run_cli("add", rec, "--codec", "fish-s1", "--text", "The alpha voice speaks.", "--json")
    assert proc.returncode == 0, proc.stderr
    return s1_repo


def engine_reference(repo: Path, name: str = "alpha") -> VoiceReference:
    project = open_project(repo)
    return voice_reference(project, load_reference(project, name))


def test_add_stores_int16_tokens_and_pins_everything(
    alpha: Path, s1_checkpoint: TinyCheckpoint
) -> None:
    manifest = json.loads((alpha / "manifests" / "alpha.json").read_text())
    samples = round(3.3 * 44100)  # after resampling 22.05 kHz -> 44.1 kHz
    frames = math.ceil(samples / 2048)
    assert manifest["tokens"]["shape"] == [10, frames] and manifest["tokens"]["dtype"] == "int16"
    codec = manifest["codec"]
    assert codec["id"] == "fish-s1"
    assert codec["library"] == {"name": "fish-speech", "version": "0.1.0"}
    assert codec["checkpoint"]["files"] == {
        "codec.pth": sha256_file(s1_checkpoint.directory / "codec.pth")
    }
    assert len(codec["checkpoint"]["config_sha256"]) == 64
    assert (codec["device"], codec["precision"]) == (fishkit.DEVICE, fishkit.PRECISION)
    assert "unpinned" not in codec["checkpoint"]
    project = open_project(alpha)
    codes = read_codes(project, load_reference(project, "alpha"))
    assert codes.dtype == np.int16 and codes.shape == (10, frames)
    assert codes[0].min() >= 0 and codes[0].max() <= 4095
    assert codes[1:].min() >= 0 and codes[1:].max() <= 1023
    assert len(np.unique(codes[0])) > 1  # the tiny codec does not collapse to one code


def test_add_loads_the_codec_once_for_all_files(
    s1_repo: Path, recording: RecordingFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    real = adapter.load_codec

    def counting(*args: object, **kwargs: object) -> adapter.CodecModel:
        loads.append("codec")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(adapter, "load_codec", counting)
    recs = [recording(f"v{i}.wav", seconds=3.0 + i * 0.01, voice="en-us") for i in range(3)]
    for rec in recs:
        rec.with_suffix(".lab").write_text("Some words.")
    results = add_references(open_project(s1_repo), recs, codec_id="fish-s1")
    assert loads == ["codec"]
    assert [r.frames for r in results] == [
        math.ceil(round(s * 44100) / 2048) for s in (3.0, 3.01, 3.02)
    ]


def test_decode_gives_frames_times_2048_samples(alpha: Path, tmp_path: Path) -> None:
    out = tmp_path / "alpha.wav"
    proc = run_cli("decode", "alpha", "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    frames = json.loads((alpha / "manifests" / "alpha.json").read_text())["tokens"]["shape"][1]
    info = soundfile.info(out)
    assert (info.samplerate, info.frames) == (44100, frames * 2048)
    again = tmp_path / "again.wav"
    assert run_cli("decode", "alpha", "-o", again).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_same_seed_same_codes_and_audio_other_seed_differs(alpha: Path) -> None:
    project = open_project(alpha)
    reference = engine_reference(alpha)
    engine, _ = open_engine(project, ENGINES["fish-s1"], RunOptions())
    try:
        one = engine.synthesize(reference, TEXT, PARAMS)
        two = engine.synthesize(reference, TEXT, PARAMS)
        other = engine.synthesize(reference, TEXT, replace(PARAMS, seed=8))
        pins = engine.pins()
    finally:
        engine.close()
    assert one.sample_rate == 44100
    assert one.audio.tobytes() == two.audio.tobytes()
    assert one.audio.tobytes() != other.audio.tobytes()
    # Random weights never sample <|im_end|>: max_new_tokens - 1 frames, each 2048 samples.
    assert len(one.audio) == (PARAMS.max_new_tokens - 1) * 2048
    assert pins["engine"] == "fish-s1" and pins["precision"] == fishkit.PRECISION
    assert pins["device"] == fishkit.DEVICE
    assert sorted(pins["checkpoint"]["files"]) == [
        "codec.pth",
        "config.json",
        "model.pth",
        "special_tokens.json",
        "tokenizer.tiktoken",
    ]


def test_generated_codes_repeat_with_the_seed(alpha: Path, s1_checkpoint: TinyCheckpoint) -> None:
    import torch

    reference = engine_reference(alpha)
    model = adapter.load_semantic_model(
        "fish-s1",
        s1_checkpoint.directory,
        torch.device(fishkit.DEVICE),
        {"fp32": torch.float32, "bf16": torch.bfloat16}[fishkit.PRECISION],
    )
    codes = torch.from_numpy(reference.codes.astype(np.int64))

    def generate(seed: int) -> torch.Tensor:
        sampling = SynthesisParams(seed, 0.7, 0.7, 1.2, 10)
        (segment,) = model.generate(TEXT, reference.transcript, codes, sampling)
        return segment

    first, second, third = generate(1), generate(1), generate(2)
    assert first.shape == (10, 9)
    assert torch.equal(first, second) and not torch.equal(first, third)
    assert int(first[0].min()) >= 0 and int(first[0].max()) <= 4095
    assert int(first[1:].max()) <= 1023


def test_say_writes_a_repeatable_line(alpha: Path, tmp_path: Path) -> None:
    out1, out2 = tmp_path / "a.wav", tmp_path / "b.wav"
    args = ["--seed", "3", "--max-new-tokens", "8"]
    proc = run_cli("say", "alpha", TEXT, "-o", out1, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # upstream's logging and progress bars stay quiet
    result = json.loads(proc.stdout)
    assert result["engine"] == "fish-s1" and result["params"]["seed"] == 3
    assert result["pins"]["library"]["name"] == "fish-speech"
    assert run_cli("say", "alpha", TEXT, "-o", out2, *args).returncode == 0
    assert out1.read_bytes() == out2.read_bytes()
    info = soundfile.info(out1)
    assert (info.samplerate, info.frames) == (44100, 7 * 2048)


def test_validate_path_imports_no_torch_for_fish_references(alpha: Path) -> None:
    git(alpha, "add", "-A")
    proc = run_cli("validate", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_cli("validate", "--staged").returncode == 0
    for command in (["validate"], ["validate", "--staged"], ["ls"], ["show", "alpha"]):
        imported = top_level_imports(*command)
        assert "refmgr" in imported
        assert not imported & {"torch", "fish_speech", "fish_speech_lib", "torchaudio", "hydra"}
    shown = json.loads(run_cli("show", "alpha", "--json").stdout)
    assert shown["tokens_status"] == "ok"
