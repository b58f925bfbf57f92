"""Speech quality: Microsoft DNSMOS P.835 (SIG, BAK, OVRL on a 1-5 scale) via speechmos.

DNSMOS rates 9.01 s windows (shorter audio is repeated to fill one). speechmos slides the
window a second at a time, which for a 30 s reference is 22 runs of both models (4.7 s
here); refmgr instead rates the fewest windows that cover the audio, at most
MAX_WINDOWS, spread evenly from its start to its end, and averages them as speechmos
averages its own. A 30 s reference is then rated on 27 s of it in 3 runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refmgr.quality.base import QualityUnavailable
from refmgr.quality.registry import checked_weight, scorer_pins

RATE = 16000
WINDOW = int(9.01 * RATE)  # speechmos's INPUT_LENGTH: one rating per call of this length
# A reference is up to 90 s: three windows (start, middle, end) rate it within the
# admission budget (3 s for 30 s on 2 cores); a line is rarely longer than one window.
MAX_WINDOWS = 3
PRIMARY = "speechmos/dnsmos_models/sig_bak_ovr.onnx"
P808 = "speechmos/dnsmos_models/model_v8.onnx"


class Dnsmos:
    id = "dnsmos"
    sample_rate = RATE

    def __init__(self, weights_dir: Path | None = None) -> None:
        # weights_dir: a folder holding both model files (tests check the pins with copies).
        self._weights_dir = weights_dir
        self._model: Any = None

    def pins(self) -> dict[str, str]:
        return scorer_pins(self.id)

    def load(self) -> None:
        if self._model is not None:
            return
        d = self._weights_dir
        primary = checked_weight(self.id, PRIMARY, d / Path(PRIMARY).name if d else None)
        p808 = checked_weight(self.id, P808, d / Path(P808).name if d else None)
        try:
            import onnxruntime  # noqa: F401  (a clear message if it alone is missing)
            from speechmos.dnsmos import DNSMOS
        except ImportError as e:
            raise QualityUnavailable("DNSMOS scorer (speechmos)", str(e)) from None
        self._model = DNSMOS(str(primary), str(p808))

    def score(self, audio: npt.NDArray[np.float32]) -> dict[str, float]:
        """SIG, BAK and OVRL of 16 kHz mono audio."""
        self.load()
        x = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        if len(x) < RATE // 10 or not np.any(x):
            return {"dnsmos_sig": 1.0, "dnsmos_bak": 1.0, "dnsmos_ovrl": 1.0}
        results = [self._model(window, RATE, False) for window in _windows(x)]
        return {
            f"dnsmos_{key}": float(np.mean([r[f"{key}_mos"] for r in results]))
            for key in ("sig", "bak", "ovrl")
        }


def _windows(x: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
    if len(x) <= WINDOW:
        return [x]
    n = min(MAX_WINDOWS, -(-len(x) // WINDOW))  # ceil
    starts = np.linspace(0, len(x) - WINDOW, n).round().astype(int)
    return [x[s : s + WINDOW] for s in starts]
