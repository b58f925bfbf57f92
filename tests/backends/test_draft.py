"""The draft engine: eSpeak NG with the reference's pitch and rate; byte-reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from refmgr.backends.base import VoiceReference
from refmgr.backends.draft import DraftEngine
from refmgr.backends.espeak import Voice
from refmgr.backends.registry import ENGINES, load_engine
from refmgr.config import DraftEngineSettings
from refmgr.errors import BackendError
from refmgr.manifest import dump_manifest, load_manifest
from refmgr.params import SynthesisParams
from refmgr.project import open_project
from refmgr.reference import load_reference, read_codes
from refmgr.voice import voice_profile
from tests.support.render import outputs, read_lock, render, rendered

ROOT = Path(__file__).resolve().parents[2]
PARAMS = SynthesisParams(
    seed=0, temperature=0.7, top_p=0.7, repetition_penalty=1.2, max_new_tokens=1024
)


def reference(root: Path, name: str) -> VoiceReference:
    project = open_project(root)
    ref = load_reference(project, name)
    m = ref.manifest
    return VoiceReference(
        name=name,
        codec_id=m.codec_id,
        codes=read_codes(project, ref),
        tokens_sha256=m.token_expectation.sha256,
        transcript=m.transcript,
        language=m.language,
        profile=m.data["voice"],
    )


def test_alpha_gets_back_the_settings_it_was_recorded_with() -> None:
    # refs/alpha.npy is eSpeak en-us at pitch 50, 150 words/min (scripts/make_alpha.py);
    # its stored profile is 106 Hz, 187.9 words/min. The calibration inverts that exactly.
    profile = load_manifest(ROOT / "manifests" / "alpha.json").data["voice"]
    engine = DraftEngine(ENGINES["draft"])
    voice = engine.voice_for(
        VoiceReference(
            "alpha", "codec2-3200", np.zeros((8, 1), np.uint8), "x", "text", "en", profile
        )
    )
    assert voice == Voice("en-us", rate_wpm=150, pitch=50)


@pytest.mark.parametrize("name", ["alpha", "beta"])
def test_rendered_pitch_follows_the_reference(cast_repo: Path, name: str) -> None:
    ref = reference(cast_repo, name)
    engine = load_engine("draft")
    out = engine.synthesize(
        ref, "The lamp is lit and the sea is calm, so we wait for the morning.", PARAMS
    )
    measured = voice_profile(out.audio, out.sample_rate, "x")["f0_median_hz"]
    target = ref.profile["f0_median_hz"]
    assert target is not None and measured is not None
    assert abs(measured - target) / target < 0.12, (name, target, measured)
    assert ("+f4" in engine.voice_for(ref).name) == (name == "beta")  # high voice, high register


def test_missing_profile_is_measured_on_the_decoded_tokens(cast_repo: Path) -> None:
    stored = DraftEngine(ENGINES["draft"]).voice_for(reference(cast_repo, "beta"))
    path = cast_repo / "manifests" / "beta.json"
    manifest = json.loads(path.read_text())
    manifest["voice"] = {"f0_median_hz": None, "speaking_rate_wpm": None}
    path.write_bytes(dump_manifest(manifest))
    decoded = DraftEngine(ENGINES["draft"]).voice_for(reference(cast_repo, "beta"))
    assert decoded.name == stored.name
    assert abs(decoded.pitch - stored.pitch) <= 8 and abs(decoded.rate_wpm - stored.rate_wpm) <= 20
    result = render(cast_repo)
    assert result.ok and rendered(result)


def test_same_script_twice_gives_identical_bytes(cast_repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(cast_repo, other)
    render(cast_repo)
    # The other copy renders the lines one at a time, last line first: no state carries over.
    for label in ("end", "0004", "0003", "ask", "0001"):
        render(other, only=(label,))
    assert outputs(other) == outputs(cast_repo)
    first = outputs(cast_repo)
    assert len(rendered(render(cast_repo, force=True))) == 5
    assert outputs(cast_repo) == first


def test_outputs_are_marked_draft(cast_repo: Path) -> None:
    render(cast_repo)
    lock = read_lock(cast_repo)
    assert lock["engine"]["draft"] is True and lock["engine"]["id"] == "draft"
    data = (cast_repo / "renders" / "ep" / "0001-alpha.wav").read_bytes()
    assert b"DRAFT: a scratch voice for timing, not a clone of the reference" in data
    audio, rate = soundfile.read(cast_repo / "renders" / "ep" / "0001-alpha.wav")
    assert rate == 22050 and len(audio) > rate  # an ordinary WAV to any player


def test_settings_and_device_are_checked_up_front() -> None:
    with pytest.raises(BackendError, match="runs on the CPU only"):
        load_engine("draft", device="cuda")
    with pytest.raises(BackendError, match="eSpeak NG has no voice 'en-gb'"):
        load_engine("draft", settings=DraftEngineSettings(voice="en-gb"))
    assert load_engine("draft", settings=DraftEngineSettings(voice="de")).pins()["voice"] == "de"
