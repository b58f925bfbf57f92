"""Measure the draft engine's calibration: what eSpeak NG's pitch and rate settings sound like.

    python scripts/calibrate_draft.py

Speaks examples/alpha.txt at a range of eSpeak pitch and rate settings, measures each
result with the same voice profile ``refmgr add`` stores (refmgr/voice.py), and prints
the tables that refmgr/backends/draft.py inverts. Deterministic: rerun it after changing
the eSpeak NG version or the profile measure, paste the tables, and bump CALIBRATION.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from refmgr.backends.draft import HIGH_VARIANT, RATE_TABLE, REGISTERS
from refmgr.backends.espeak import Voice, speak
from refmgr.voice import voice_profile

TEXT = " ".join(
    (Path(__file__).resolve().parent.parent / "examples" / "alpha.txt").read_text("utf-8").split()
)


def profile(voice: Voice) -> dict[str, float | None]:
    pcm, rate = speak(TEXT, voice)
    return voice_profile(pcm.astype(np.float32) / 32768.0, rate, TEXT)


def main() -> int:
    for variant, (pitches, _) in REGISTERS.items():
        name = "en-us" + (f"+{variant}" if variant else "")
        f0 = [profile(Voice(name, 175, p))["f0_median_hz"] for p in pitches]
        print(f"{variant or 'default'} ({name}): pitches {list(pitches)}")
        print(f"  median F0 (Hz): {[round(float(x), 1) if x else None for x in f0]}")
    rates = RATE_TABLE[0]
    wpm = [profile(Voice("en-us", r, 50))["speaking_rate_wpm"] for r in rates]
    print(f"rates {list(rates)}")
    print(f"  measured words/min: {[round(float(x), 1) if x else None for x in wpm]}")
    print(f"(high register variant: +{HIGH_VARIANT})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
