"""fish-1.5 through fish-speech-lib on a random-weight checkpoint (real firefly size, tiny LLM)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from refmgr.backends.registry import CODECS, ENGINES
from refmgr.checkpoints import RunOptions, open_engine
from refmgr.cli import main
from refmgr.project import open_project
from tests.fish.test_s1 import PARAMS, engine_reference
from tests.support.helpers import RecordingFactory

# 3.25 s: floor(S / 512) / 4 rounds up to one frame fewer than ceil(S / 2048).
SAMPLES = 2048 * 70 + 100
TEXT = "Good morning. The tide is out, and the boats are resting on the sand."


@pytest.fixture
def delta(v15_repo: Path, recording: RecordingFactory) -> Path:
    rec = recording("delta.wav", seconds=SAMPLES / 44100)
    assert main(["add", str(rec), "--codec", "fish-1.5", "--text", "Delta speaks."]) == 0
    return v15_repo


def test_firefly_frame_rule() -> None:
    spec = CODECS["fish-1.5"]
    assert spec.frames_for(SAMPLES) == math.ceil((SAMPLES // 512) / 4) == 70
    assert CODECS["fish-s1"].frames_for(SAMPLES) == 71


def test_add_and_decode(delta: Path, tmp_path: Path) -> None:
    manifest = json.loads((delta / "manifests" / "delta.json").read_text())
    assert manifest["tokens"]["shape"] == [8, 70] and manifest["tokens"]["dtype"] == "int16"
    codec = manifest["codec"]
    assert codec["library"] == {"name": "fish-speech-lib", "version": "0.1.1.1"}
    assert list(codec["checkpoint"]["files"]) == ["firefly-gan-vq-fsq-8x1024-21hz-generator.pth"]
    assert codec["code_ranges"] == [[0, 999]] * 8
    codes = engine_reference(delta, "delta").codes
    assert codes.min() >= 0 and codes.max() <= 999 and len(np.unique(codes)) > 8
    out = tmp_path / "delta.wav"
    assert main(["decode", "delta", "-o", str(out)]) == 0
    assert soundfile.info(out).frames == 70 * 2048


def test_engine_is_deterministic_per_seed(delta: Path) -> None:
    engine = open_engine(open_project(delta), ENGINES["fish-1.5"], RunOptions())[0]
    reference = engine_reference(delta, "delta")
    params = replace(PARAMS, seed=11, max_new_tokens=8)
    try:
        one = engine.synthesize(reference, TEXT, params)
        two = engine.synthesize(reference, TEXT, params)
        other = engine.synthesize(reference, TEXT, replace(params, seed=12))
        assert engine.pins()["library"]["name"] == "fish-speech-lib"
    finally:
        engine.close()
    assert one.audio.tobytes() == two.audio.tobytes() != other.audio.tobytes()
    assert len(one.audio) % 2048 == 0 and len(one.audio) > 0


def test_s1_engine_refuses_15_tokens(
    delta: Path, s1_checkpoint: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["say", "delta", "Hi.", "-o", str(tmp_path / "x.wav"), "--engine", "fish-s1"]) == 1
    assert "fish-1.5 tokens, which the fish-s1 engine cannot clone from" in capsys.readouterr().err


def test_say_falls_back_to_the_engine_made_for_the_references_codec(
    delta: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # engines.default is fish-s1, which cannot clone from fish-1.5 tokens: fish-1.5 speaks.
    config = delta / "refmgr.toml"
    config.write_text(config.read_text().replace('default = "draft"', 'default = "fish-s1"', 1))
    capsys.readouterr()
    args = ["say", "delta", "Hi.", "-o", str(tmp_path / "x.wav"), "--max-new-tokens", "4"]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["engine"] == "fish-1.5"
