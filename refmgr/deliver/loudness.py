"""Loudness targets for a mix: ITU-R BS.1770 integrated loudness and a true-peak ceiling.

Measuring goes through pyloudnorm (the ``deliver`` extra: it needs scipy, which nothing
else in refmgr's core does), imported only when a mix is normalized, never on the commit
hook's path. A target is a preset or explicit values; ``normalize`` brings a mix to it with
a gain and, where the gain would push peaks over the ceiling, a look-ahead peak limiter,
measuring again after limiting (limiting lowers loudness) until both hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from refmgr.errors import RefmgrError

Audio = npt.NDArray[np.float32]
Measure = Literal["lufs", "rms"]

LUFS_RANGE = (-40.0, -5.0)  # explicit targets outside it are typos, not deliveries
PEAK_RANGE = (-12.0, 0.0)
SILENCE_DB = -120.0  # what a level of digital silence is reported as (JSON has no -inf)
NOISE_WINDOW_S = 0.5  # ACX measures the noise floor over the quietest half second
LIMITER_WINDOW_S = 0.002  # look-ahead and release of the peak limiter
# Intersample peaks of real signals stay within about 3 dB of the highest sample: stretches
# with a sample this close to it are oversampled (blocks of samples, with a margin longer
# than the resampling filter's reach on each side).
TRUE_PEAK_SEARCH_DB = 6.0
TRUE_PEAK_BLOCK = 16384
TRUE_PEAK_MARGIN = 256
TOLERANCE_DB = 0.1  # how close normalize gets before it stops iterating
MAX_ROUNDS = 12
MET_WITHIN_DB = 0.5  # a target is met within this (what the tests hold the mix to)
INSTALL_HINT = "pip install 'refmgr[deliver]'"


@dataclass(frozen=True)
class LoudnessTarget:
    name: str  # a preset's name, or "custom"
    measure: Measure  # what ``level`` is: integrated loudness (LUFS) or whole-file RMS (dBFS)
    level: float
    peak_db: float  # true-peak ceiling, dBTP
    accepted: tuple[float, float] | None = None  # the range a distributor accepts, if any

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "measure": self.measure,
            "level": self.level,
            "true_peak_db": self.peak_db,
        }
        if self.accepted is not None:
            data["accepted"] = list(self.accepted)
        return data


PRESETS: Mapping[str, LoudnessTarget] = {
    "podcast": LoudnessTarget("podcast", "lufs", -16.0, -1.0),
    # EBU R128: -23 LUFS; its true-peak limit is -1 dBTP.
    "broadcast": LoudnessTarget("broadcast", "lufs", -23.0, -1.0),
    # ACX (Audible): every file between -23 and -18 dB RMS, peaks at most -3 dB, a noise
    # floor at most -60 dB RMS. refmgr aims at the middle of the range.
    "audiobook": LoudnessTarget("audiobook", "rms", -20.0, -3.0, accepted=(-23.0, -18.0)),
}


def parse_target(text: str) -> LoudnessTarget:
    """A preset name, ``LUFS`` (true-peak ceiling -1 dBTP) or ``LUFS:DBTP``: ``-14:-1.5``."""
    preset = PRESETS.get(text.strip().lower())
    if preset is not None:
        return preset
    level_text, _, peak_text = text.partition(":")
    try:
        level = float(level_text)
        peak = float(peak_text) if peak_text else -1.0
    except ValueError:
        raise RefmgrError(
            f"--loudness: '{text}' is neither a preset ({', '.join(PRESETS)}) nor LUFS[:DBTP] "
            "such as -16 or -14:-1.5"
        ) from None
    if not (math.isfinite(level) and LUFS_RANGE[0] <= level <= LUFS_RANGE[1]):
        raise RefmgrError(
            f"--loudness: {level_text} LUFS is outside {LUFS_RANGE[0]:g}..{LUFS_RANGE[1]:g}"
        )
    if not (math.isfinite(peak) and PEAK_RANGE[0] <= peak <= PEAK_RANGE[1]):
        raise RefmgrError(
            f"--loudness: a true-peak ceiling of {peak_text} dBTP is outside "
            f"{PEAK_RANGE[0]:g}..{PEAK_RANGE[1]:g}"
        )
    return LoudnessTarget("custom", "lufs", level, peak)


@dataclass(frozen=True)
class Measurement:
    integrated_lufs: float | None  # None: too short or too quiet to gate (under 0.4 s)
    true_peak_db: float
    rms_db: float
    noise_floor_db: float  # RMS of the quietest half second

    def to_json(self) -> dict[str, Any]:
        return {
            "integrated_lufs": _rounded(self.integrated_lufs),
            "true_peak_db": _rounded(self.true_peak_db),
            "rms_db": _rounded(self.rms_db),
            "noise_floor_db": _rounded(self.noise_floor_db),
        }

    def level(self, measure: Measure) -> float | None:
        return self.integrated_lufs if measure == "lufs" else self.rms_db

    def meets(self, target: LoudnessTarget) -> bool:
        """Within MET_WITHIN_DB of the level, and no true peak over the ceiling (a lossy
        encoder may add a few hundredths: 0.1 dB allowed)."""
        level = self.level(target.measure)
        return (
            level is not None
            and abs(level - target.level) <= MET_WITHIN_DB
            and self.true_peak_db <= target.peak_db + 0.1
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _meter(rate: int) -> Any:
    try:
        import pyloudnorm
    except ImportError:
        raise RefmgrError(f"--loudness needs pyloudnorm; install it with: {INSTALL_HINT}") from None
    return pyloudnorm.Meter(rate)


def _db(value: float) -> float:
    return max(SILENCE_DB, 20.0 * math.log10(value)) if value > 0 else SILENCE_DB


def integrated_lufs(audio: Audio, rate: int) -> float | None:
    if len(audio) < round(0.4 * rate):  # shorter than one gating block
        return None
    value = float(_meter(rate).integrated_loudness(audio.astype(np.float64)))
    return value if math.isfinite(value) else None


def peak_envelope(audio: Audio, rate: int, floor: float) -> npt.NDArray[np.float64]:
    """Each sample's magnitude, raised to the highest intersample peak next to it (the
    signal oversampled to at least 192 kHz, BS.1770-4 Annex 2), where it reaches ``floor``
    (linear): only stretches with a sample within TRUE_PEAK_SEARCH_DB of ``floor`` are
    oversampled, in blocks, so that measuring an hour-long mix several times stays cheap."""
    from scipy.signal import firwin, resample_poly

    envelope = np.abs(audio).astype(np.float64)
    factor = math.ceil(192_000 / rate)
    if factor <= 1 or not len(audio):
        return envelope
    # resample_poly's own low-pass (Kaiser, beta 5, 10 zero crossings), designed once here
    # rather than again for every block.
    lowpass = firwin(20 * factor + 1, 1.0 / factor, window=("kaiser", 5.0))
    near = np.flatnonzero(envelope >= floor * 10.0 ** (-TRUE_PEAK_SEARCH_DB / 20.0))
    for block in np.unique(near // TRUE_PEAK_BLOCK):
        first = int(block) * TRUE_PEAK_BLOCK
        last = min(len(audio), first + TRUE_PEAK_BLOCK)
        start, stop = max(0, first - TRUE_PEAK_MARGIN), min(len(audio), last + TRUE_PEAK_MARGIN)
        over = np.abs(
            resample_poly(audio[start:stop].astype(np.float64), factor, 1, window=lowpass)
        )
        # between[i]: the highest point from sample i to sample i + 1 (the filter's ringing
        # at the stretch's zero-padded ends stays in the margins, which are not read).
        between = over[: (stop - start) * factor].reshape(-1, factor).max(axis=1)
        inside = between[first - start : last - start]
        before = between[max(0, first - start - 1) : last - start - 1]
        envelope[first:last] = np.maximum(envelope[first:last], inside)
        if len(before) == last - first:
            envelope[first:last] = np.maximum(envelope[first:last], before)
    return envelope


def true_peak_db(audio: Audio, rate: int) -> float:
    """BS.1770-4 true peak, dBTP: oversampling only near the highest sample."""
    if not len(audio):
        return SILENCE_DB
    peak = float(np.max(np.abs(audio)))
    if peak == 0.0:
        return SILENCE_DB
    return _db(float(np.max(peak_envelope(audio, rate, peak))))


def rms_db(audio: Audio) -> float:
    return (
        _db(math.sqrt(float(np.mean(np.square(audio, dtype=np.float64)))))
        if len(audio)
        else SILENCE_DB
    )


def noise_floor_db(audio: Audio, rate: int) -> float:
    window = max(1, round(NOISE_WINDOW_S * rate))
    if len(audio) <= window:
        return rms_db(audio)
    power = np.cumsum(np.concatenate([[0.0], np.square(audio, dtype=np.float64)]))
    means = (power[window:] - power[:-window]) / window
    return _db(math.sqrt(max(0.0, float(np.min(means)))))


def measure(audio: Audio, rate: int) -> Measurement:
    return Measurement(
        integrated_lufs=integrated_lufs(audio, rate),
        true_peak_db=true_peak_db(audio, rate),
        rms_db=rms_db(audio),
        noise_floor_db=noise_floor_db(audio, rate),
    )


def level_gains(
    voices: Mapping[str, Sequence[Audio]], rate: int, level_lufs: float
) -> dict[str, float]:
    """The gain (dB) that brings each character's lines, taken together, to ``level_lufs``:
    voices level with each other before the mix is normalized. A character too short or
    quiet to measure keeps its level (gain 0)."""
    gains = {}
    for character, lines in voices.items():
        loudness = integrated_lufs(np.concatenate(list(lines)), rate) if lines else None
        gains[character] = 0.0 if loudness is None else level_lufs - loudness
    return gains


def apply_gain(audio: Audio, gain_db: float) -> Audio:
    return (audio * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)


def limit(
    audio: Audio,
    rate: int,
    ceiling_db: float,
    envelope: npt.NDArray[np.float64] | None = None,
) -> Audio:
    """Lower the signal around every true peak above ``ceiling_db``, smoothly: the gain
    each sample needs is spread over a short window before and after it (a minimum filter,
    then a moving average no wider, so every peak still gets at least the reduction it
    needs). ``envelope``: ``peak_envelope`` of ``audio`` if already known."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceiling = 10.0 ** (ceiling_db / 20.0)
    if envelope is None:
        envelope = peak_envelope(audio, rate, ceiling)
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    if float(np.min(needed)) >= 1.0:
        return audio
    half = max(1, round(LIMITER_WINDOW_S * rate))
    held = minimum_filter1d(needed, size=4 * half + 1, mode="nearest")
    smooth = uniform_filter1d(held, size=2 * half + 1, mode="nearest")
    limited: Audio = (audio * np.minimum(smooth, needed)).astype(np.float32)
    return limited


def normalize(audio: Audio, rate: int, target: LoudnessTarget) -> tuple[Audio, Measurement]:
    """``audio`` at ``target``'s level with true peaks at most its ceiling, and its measure.

    A gain, then the limiter where peaks go over; limiting lowers the level, so the gain
    is corrected and the limiter applied again, a few rounds. The true-peak envelope is
    oversampled once: a gain scales it, and the limiter's gain changes too slowly to move
    intersample peaks off it by more than a trace, which the final measure catches (then
    the whole is done again under a ceiling lowered by what went over)."""
    level = rms_db(audio) if target.measure == "rms" else integrated_lufs(audio, rate)
    if level is None or level <= SILENCE_DB:
        raise RefmgrError(
            "the mix is too short or too quiet to measure its loudness (BS.1770 needs 0.4 s "
            "of sound): mix without --loudness"
        )
    envelope = peak_envelope(audio, rate, 0.0)  # every stretch: gains below move the peaks
    gain, margin = target.level - level, 0.0
    out, lufs, peak = audio, None, SILENCE_DB
    for _ in range(4):
        for _ in range(MAX_ROUNDS):
            scale = 10.0 ** (gain / 20.0)
            out = limit(apply_gain(audio, gain), rate, target.peak_db - margin, envelope * scale)
            lufs = integrated_lufs(out, rate)
            reached = rms_db(out) if target.measure == "rms" else lufs
            assert reached is not None
            if abs(reached - target.level) <= TOLERANCE_DB:
                break
            gain += target.level - reached
        peak = true_peak_db(out, rate)
        if peak <= target.peak_db + 1e-3:
            break
        margin += max(0.02, peak - target.peak_db)
    return out, Measurement(lufs, peak, rms_db(out), noise_floor_db(out, rate))
