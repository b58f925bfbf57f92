"""Speech quality: Microsoft DNSMOS P.835 (SIG, BAK, OVRL on a 1-5 scale) via speechmos.

DNSMOS scores 9 s windows a second apart (shorter audio is repeated to 9 s), so its cost
grows with the length of the audio: about 1 s for a 5 s clip on 2 cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refmgr.quality.base import QualityUnavailable
from refmgr.quality.registry import checked_weight, scorer_pins

RATE = 16000
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
        result = self._model(x, RATE, False)
        return {
            "dnsmos_sig": float(result["sig_mos"]),
            "dnsmos_bak": float(result["bak_mos"]),
            "dnsmos_ovrl": float(result["ovrl_mos"]),
        }
