"""Loudness: ITU-R BS.1770 integrated loudness (pyloudnorm) and true peak (4x oversampling)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from refmgr.quality.base import QualityUnavailable
from refmgr.quality.registry import scorer_pins

OVERSAMPLE = 4  # BS.1770-4 Annex 2: 4x oversampling for rates up to 48 kHz
SILENT_LUFS = -99.0  # what a recording too quiet (or too short) to gate is reported as


class Loudness:
    id = "loudness"

    def __init__(self) -> None:
        self._pyln: Any = None
        self._resample_poly: Any = None

    def pins(self) -> dict[str, str]:
        return scorer_pins(self.id)

    def load(self) -> None:
        if self._pyln is not None:
            return
        try:
            import pyloudnorm
            from scipy.signal import resample_poly
        except ImportError as e:
            raise QualityUnavailable("loudness scorer (pyloudnorm)", str(e)) from None
        self._pyln, self._resample_poly = pyloudnorm, resample_poly

    def integrated_lufs(self, audio: npt.NDArray[np.float32], sample_rate: int) -> float:
        self.load()
        x = np.asarray(audio, dtype=np.float64)
        if len(x) < int(0.4 * sample_rate):  # shorter than one gating block
            return SILENT_LUFS
        value = float(self._pyln.Meter(sample_rate).integrated_loudness(x))
        return value if math.isfinite(value) else SILENT_LUFS

    def true_peak_db(self, audio: npt.NDArray[np.float32]) -> float:
        """dBTP: the peak of the signal between its samples too (inter-sample overs)."""
        self.load()
        x = np.asarray(audio, dtype=np.float64)
        if len(x) == 0:
            return SILENT_LUFS
        up = self._resample_poly(x, OVERSAMPLE, 1)
        peak = max(float(np.max(np.abs(up))), float(np.max(np.abs(x))))
        return 20 * math.log10(peak) if peak > 0 else SILENT_LUFS
