"""Measures computed from samples alone (numpy): clipping, SNR, silence at the edges.

They take the voice activity flags from ``vad.VoiceActivity`` (30 ms frames at 16 kHz).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from refmgr.audio import FULL_SCALE

MAX_SNR_DB = 100.0  # digital silence between words: the estimate is capped, not infinite
# Too few non-speech frames to measure the noise from them: the quietest frames are used.
MIN_NOISE_FRAMES = 10
NOISE_PERCENTILE = 10.0


def clipped_ratio(audio: npt.NDArray[np.float32]) -> float:
    """Fraction of samples at full scale (the same rule as refmgr.audio's clipping warning)."""
    if len(audio) == 0:
        return 0.0
    return float(np.mean(np.abs(audio) >= FULL_SCALE))


def frame_power(audio: npt.NDArray[np.float32], frame: int) -> npt.NDArray[np.float64]:
    n = len(audio) // frame
    frames = np.asarray(audio[: n * frame], dtype=np.float64).reshape(n, frame)
    power: npt.NDArray[np.float64] = np.mean(frames**2, axis=1)
    return power


def snr_db(audio: npt.NDArray[np.float32], speech: npt.NDArray[np.bool_], frame: int) -> float:
    """Speech-to-noise ratio: speech frames' power over the noise floor's, in dB.

    The noise floor is the mean power of the frames the VAD calls non-speech (the pauses),
    or of the quietest 10% of frames when there are too few pauses to measure. Speech
    frames hold noise too, so it is subtracted from their power.
    """
    power = frame_power(audio, frame)[: len(speech)]
    speech = speech[: len(power)]
    if not speech.any():
        return 0.0
    quiet = power[~speech]
    if len(quiet) < MIN_NOISE_FRAMES:
        quiet = power[power <= np.percentile(power, NOISE_PERCENTILE)]
    noise = float(np.mean(quiet)) if len(quiet) else 0.0
    signal = float(np.mean(power[speech])) - noise
    if signal <= 0:
        return 0.0
    if noise <= signal * 10 ** (-MAX_SNR_DB / 10):
        return MAX_SNR_DB
    return min(MAX_SNR_DB, 10 * math.log10(signal / noise))


def edge_silence_s(speech: npt.NDArray[np.bool_], frame_s: float) -> tuple[float, float]:
    """Seconds before the first and after the last speech frame (all of it when none)."""
    idx = np.flatnonzero(speech)
    if len(idx) == 0:
        total = len(speech) * frame_s
        return total, total
    return float(idx[0] * frame_s), float((len(speech) - 1 - idx[-1]) * frame_s)
