"""LineScorer on real audio: the measures the render gates are built on."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from refmgr.quality.line import LineScorer
from refmgr.quality.reference import ReferenceMeter, spoken_chars
from tests.quality.conftest import RATE, VOICES, clip, transcript


@pytest.fixture(scope="module")
def cast() -> dict[str, tuple[np.ndarray, float]]:
    """Each voice's reference (sentence a): its embedding and speaking rate."""
    meter = ReferenceMeter()
    refs = {}
    for voice in VOICES:
        q = meter.measure(clip(f"{voice}_a")[0], RATE, transcript(f"{voice}_a"))
        refs[voice] = (np.asarray(q.embedding, dtype=np.float32), q.measures["chars_per_second"])
    return refs


@pytest.fixture(scope="module")
def scorer() -> LineScorer:
    return LineScorer()


def _score(scorer: LineScorer, cast: dict, audio: np.ndarray, own: str, text: str) -> dict:
    return scorer.score(
        audio,
        RATE,
        text=text,
        own=own,
        embeddings={v: e for v, (e, _) in cast.items()},
        chars_per_second=cast[own][1],
    )


@pytest.mark.parametrize("voice", VOICES)
def test_a_line_in_its_own_voice_is_nearest_its_reference(
    voice: str, scorer: LineScorer, cast: dict
) -> None:
    line = f"{voice}_b"  # another sentence than the reference's
    s = _score(scorer, cast, clip(line)[0], voice, transcript(line))
    assert s["nearest"] == voice
    assert s["similarity"] == s["nearest_similarity"] > 0.85
    assert float(s["margin"]) > 0.1
    assert 0.8 < float(s["duration_ratio"]) < 1.25
    assert float(s["clipped_ratio"]) == 0.0
    assert float(s["lead_silence_s"]) < 0.5 and float(s["trail_silence_s"]) < 0.5
    assert float(s["dnsmos_ovrl"]) > 2.3


def test_a_line_in_another_voice_is_nearest_that_voice(scorer: LineScorer, cast: dict) -> None:
    s = _score(scorer, cast, clip("rms_b")[0], "slt", transcript("rms_b"))
    assert s["nearest"] == "rms"
    assert float(s["margin"]) < -0.1


def test_silent_clipped_and_rushed_lines_show_in_their_measures(
    scorer: LineScorer, cast: dict
) -> None:
    audio, text = clip("kal_b")[0], transcript("kal_b")
    silent = _score(scorer, cast, np.zeros(3 * RATE, dtype=np.float32), "kal", text)
    assert float(silent["lead_silence_s"]) > 2.9 and float(silent["lufs"]) < -90
    clipped = _score(scorer, cast, np.clip(audio * 6, -1, 1), "kal", text)
    assert float(clipped["clipped_ratio"]) > 0.05 and float(clipped["true_peak_db"]) > 0
    rushed = soxr.resample(audio, 2 * RATE, RATE)  # twice as fast (and higher)
    s = _score(scorer, cast, rushed, "kal", text)
    assert 0.35 < float(s["duration_ratio"]) < 0.65


def test_spoken_chars_count_letters_and_digits_only() -> None:
    assert spoken_chars("It's 9 o'clock, Bob!") == 13
