"""Voice activity: the WebRTC VAD (webrtcvad, C code, no weights) on 30 ms frames."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from refmgr.quality.base import QualityUnavailable
from refmgr.quality.registry import scorer_pins

RATE = 16000
FRAME_S = 0.03
FRAME = int(RATE * FRAME_S)
# 0 (least) to 3 (most aggressive at calling a frame non-speech). 2 keeps breathy onsets
# of the fixture voices while calling steady noise at 20 dB SNR non-speech.
AGGRESSIVENESS = 2


class VoiceActivity:
    id = "vad"
    sample_rate = RATE
    frame_s = FRAME_S

    def __init__(self, aggressiveness: int = AGGRESSIVENESS) -> None:
        self._aggressiveness = aggressiveness
        self._vad: Any = None

    def pins(self) -> dict[str, str]:
        return {**scorer_pins(self.id), "vad.aggressiveness": str(self._aggressiveness)}

    def load(self) -> None:
        if self._vad is not None:
            return
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import webrtcvad
        except ImportError as e:
            raise QualityUnavailable("voice activity scorer (webrtcvad)", str(e)) from None
        self._vad = webrtcvad

    def speech_frames(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        """One flag per whole 30 ms frame of 16 kHz mono audio: speech or not."""
        self.load()
        pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
        n = len(pcm) // FRAME
        frames = pcm[: n * FRAME].reshape(n, FRAME)
        # A fresh detector for each recording: one carries its smoothing state from the end
        # of the last recording into the first frames of the next, so that the same audio
        # would score differently after different audio (a render and its shards disagree).
        vad = self._vad.Vad(self._aggressiveness)
        return np.fromiter((vad.is_speech(f.tobytes(), RATE) for f in frames), dtype=bool, count=n)
