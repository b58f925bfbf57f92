"""Delivery cost: a loudness-normalized mix of 200 lines against the plain mix.

    python benchmarks/bench_mix.py

200 draft-voice lines of two characters (eSpeak NG, about 2.5 s each) are joined by
``refmgr.render.mix.mix`` (the code behind `render mix`, in this process: the lines are
made once, outside the timing) as a plain WAV mix (the baseline), with ``--loudness
podcast`` (character levelling, BS.1770 gating, true-peak limiting, measuring the written
file), and with the podcast target to MP3 (a lossy format: peaks measured again after
encoding). Each figure is the median of 3 runs; the ratios are against the plain mix
measured in the same run. Prints the loudness reached, which must be within 0.5 LU.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

from refmgr.backends.espeak import Voice, speak_float
from refmgr.deliver.loudness import PRESETS
from refmgr.render.mix import MixResult, Part, mix

LINES = 200
TRIALS = 3
RATE = 22050
WORDS = ["lamp", "sea", "ship", "rock", "tide", "gull", "wind", "rope", "bell", "storm"]


def make_parts() -> list[Part]:
    parts = []
    for i in range(1, LINES + 1):
        character, voice = ("alpha", "en-us") if i % 2 else ("beta", "en-us+f4")
        text = (
            f"Line {i}: the {WORDS[i % len(WORDS)]} and the {WORDS[(i * 7) % len(WORDS)]} "
            "are quiet tonight."
        )
        audio = speak_float(text, RATE, Voice(voice))
        if character == "beta":
            audio = audio * np.float32(0.4)  # a quieter voice, for the levelling to do
        buf = io.BytesIO()
        soundfile.write(buf, audio, RATE, format="WAV", subtype="PCM_16")
        parts.append(Part(buf.getvalue(), 0.4, f"{i:04d}", character, text))
    return parts


def timed(run: Callable[[], MixResult]) -> tuple[float, MixResult]:
    times, result = [], None
    for _ in range(TRIALS):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times), result


def main() -> int:
    print(f"making {LINES} lines with eSpeak NG ...", flush=True)
    parts = make_parts()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plain_s, plain = timed(lambda: mix(parts, out / "plain.wav"))
        podcast = PRESETS["podcast"]
        loud_s, loud = timed(lambda: mix(parts, out / "podcast.wav", loudness=podcast))
        mp3_s, mp3 = timed(lambda: mix(parts, out / "podcast.mp3", loudness=podcast))
    print(f"mix of {LINES} lines, {plain.duration_s:.0f} s of audio (median of {TRIALS}):")
    print(f"  plain WAV mix (baseline)        {plain_s:6.2f} s")
    print(f"  --loudness podcast, WAV         {loud_s:6.2f} s   ratio {loud_s / plain_s:5.1f}x")
    print(f"  --loudness podcast, MP3         {mp3_s:6.2f} s   ratio {mp3_s / plain_s:5.1f}x")
    ok = True
    for name, result in (("WAV", loud), ("MP3", mp3)):
        assert result.loudness is not None
        m = result.loudness.measured
        print(
            f"  {name}: {m.integrated_lufs:.2f} LUFS, true peak {m.true_peak_db:.2f} dBTP, "
            f"character gains {result.loudness.gains_db}"
        )
        ok = ok and result.loudness.met
    if not ok:
        print("a loudness target was missed", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
