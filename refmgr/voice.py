"""A small profile of a speaker (median pitch, speaking rate), stored in the manifest.

The draft engine matches its scratch voice to it; people read it in ``refmgr show``.
Pitch comes from a normalised autocorrelation over 40 ms frames; speaking rate is the
transcript's word count over the span from the first to the last active frame.
"""

from __future__ import annotations

import numpy as np

from refmgr.audio import Samples, resample

RATE = 16000
FRAME = 640  # 40 ms
HOP = 160  # 10 ms
F0_MIN, F0_MAX = 60.0, 400.0
ACTIVE_DB = 35.0  # frames within this many dB of the loudest count as speech
VOICED_CORRELATION = 0.6


def voice_profile(samples: Samples, sample_rate: int, transcript: str) -> dict[str, float | None]:
    x = resample(samples, sample_rate, RATE).astype(np.float64)
    if len(x) < FRAME:
        return {"f0_median_hz": None, "speaking_rate_wpm": None}
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP]
    frames = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    active = rms > rms.max() * 10 ** (-ACTIVE_DB / 20) if rms.max() > 0 else rms > 0
    spectrum = np.fft.rfft(frames * np.hanning(FRAME), n=2 * FRAME, axis=1)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :FRAME]
    lag_lo, lag_hi = int(RATE / F0_MAX), int(RATE / F0_MIN)
    energy = np.maximum(corr[:, :1], 1e-12)
    window = corr[:, lag_lo : lag_hi + 1] / energy
    best = window.argmax(axis=1)
    voiced = active & (window[np.arange(len(best)), best] > VOICED_CORRELATION)
    f0 = RATE / (best + lag_lo)
    f0_median = round(float(np.median(f0[voiced])), 1) if voiced.sum() >= 10 else None
    words = len(transcript.split())
    idx = np.flatnonzero(active)
    span_s = (idx[-1] - idx[0] + 1) * HOP / RATE if len(idx) else 0.0
    rate = round(words / span_s * 60.0, 1) if span_s > 0.5 and words else None
    return {"f0_median_hz": f0_median, "speaking_rate_wpm": rate}
