"""The scorers on real audio: pinned weights, embeddings that tell the fixture voices apart."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from refmgr.quality.base import PinMismatch, QualityUnavailable
from refmgr.quality.dnsmos import P808, PRIMARY, Dnsmos
from refmgr.quality.registry import WEIGHTS, packaged_file, scorer_pins
from refmgr.quality.speaker import WEIGHTS as SPEAKER_WEIGHTS
from refmgr.quality.speaker import SpeakerEncoder, cosine
from tests.quality.conftest import VOICES, clip


def _corrupt_copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def test_a_speaker_weight_file_that_does_not_match_its_pin_is_refused(tmp_path: Path) -> None:
    original = packaged_file(SPEAKER_WEIGHTS)
    intact = tmp_path / "intact.pt"
    shutil.copyfile(original, intact)
    SpeakerEncoder(weight_file=intact).load()  # a faithful copy is the pinned file

    bad = _corrupt_copy(original, tmp_path / "pretrained.pt")
    with pytest.raises(PinMismatch) as e:
        SpeakerEncoder(weight_file=bad).load()
    message = str(e.value)
    assert message.startswith(f"{bad}: weight file of scorer 'speaker' does not match its pin")
    assert WEIGHTS["speaker"][SPEAKER_WEIGHTS][:12] in message


def test_a_dnsmos_model_that_does_not_match_its_pin_is_refused(tmp_path: Path) -> None:
    shutil.copyfile(packaged_file(P808), tmp_path / Path(P808).name)
    _corrupt_copy(packaged_file(PRIMARY), tmp_path / Path(PRIMARY).name)
    with pytest.raises(PinMismatch, match=r"sig_bak_ovr\.onnx: weight file of scorer 'dnsmos'"):
        Dnsmos(weights_dir=tmp_path).load()


def test_a_missing_weight_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PinMismatch, match="is missing"):
        SpeakerEncoder(weight_file=tmp_path / "nothing.pt").load()


@pytest.mark.no_qa
def test_pins_name_versions_and_weight_hashes() -> None:
    pins = scorer_pins("speaker")
    assert pins[SPEAKER_WEIGHTS] == "sha256:" + WEIGHTS["speaker"][SPEAKER_WEIGHTS]
    assert set(pins) >= {"resemblyzer", "torch"}


@pytest.mark.no_qa
def test_quality_unavailable_says_how_to_install() -> None:
    assert "install refmgr[qa]" in str(QualityUnavailable("speaker scorer"))


def test_the_speaker_encoder_tells_the_fixture_voices_apart() -> None:
    encoder = SpeakerEncoder()
    emb = {f"{v}_{k}": encoder.embed(clip(f"{v}_{k}")[0]) for v in VOICES for k in "ab"}
    same = [cosine(emb[f"{v}_a"], emb[f"{v}_b"]) for v in VOICES]
    different = [
        cosine(emb[a], emb[b])
        for a, b in itertools.combinations(emb, 2)
        if a.split("_")[0] != b.split("_")[0]
    ]
    # Measured: same voice 0.90-0.95, different voices 0.46-0.77 (README, "Quality gates").
    assert min(same) > 0.85
    assert max(different) < 0.82
    assert min(same) - max(different) > 0.08
    assert all(np.isclose(np.linalg.norm(e), 1.0, atol=1e-4) for e in emb.values())
