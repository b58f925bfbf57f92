"""Score one rendered line: voice, cast identification, quality, level, silence, duration.

Built once per render so the models load once; ``score`` is then called per line.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from refmgr.audio import resample
from refmgr.quality import signal
from refmgr.quality.base import Scorer
from refmgr.quality.reference import RATE, spoken_chars

Score = dict[str, float | str]


class LineScorer:
    def __init__(self, *, speaker: bool = True, dnsmos: bool = True) -> None:
        # speaker=False, dnsmos=False: no speaker (similarity, cast) or DNSMOS scores, and
        # none of their pins; they are the costly measures, and a render leaves them out
        # where they say nothing (a draft engine's eSpeak voice is no clone; see
        # render/scoring.py).
        from refmgr.quality.dnsmos import Dnsmos
        from refmgr.quality.loudness import Loudness
        from refmgr.quality.speaker import SpeakerEncoder
        from refmgr.quality.vad import VoiceActivity

        self.speaker = SpeakerEncoder() if speaker else None
        self.dnsmos = Dnsmos() if dnsmos else None
        self.loudness = Loudness()
        self.vad = VoiceActivity()

    def _scorers(self) -> list[Scorer]:
        return [s for s in (self.speaker, self.dnsmos, self.loudness, self.vad) if s is not None]

    def load(self) -> None:
        for scorer in self._scorers():
            scorer.load()

    def pins(self) -> dict[str, str]:
        pins: dict[str, str] = {}
        for scorer in self._scorers():
            pins.update(scorer.pins())
        return pins

    def score(
        self,
        audio: npt.NDArray[np.float32],
        sample_rate: int,
        *,
        text: str,
        own: str,
        embeddings: Mapping[str, npt.NDArray[np.float32]],
        chars_per_second: float | None,
    ) -> Score:
        """Scores of one line's audio against its own voice ``own`` and the whole cast.

        ``margin`` is the similarity to its own voice minus the best similarity to any
        other voice: positive when the line is nearest its own voice.
        """
        self.load()
        audio = np.asarray(audio, dtype=np.float32)
        x = resample(audio, sample_rate, RATE) if sample_rate != RATE else audio
        speech = self.vad.speech_frames(x)
        lead, trail = signal.edge_silence_s(speech, self.vad.frame_s)
        scores: Score = {
            **(self.dnsmos.score(x) if self.dnsmos is not None else {}),
            "lufs": self.loudness.integrated_lufs(audio, sample_rate),
            "true_peak_db": self.loudness.true_peak_db(audio),
            "clipped_ratio": signal.clipped_ratio(audio),
            "lead_silence_s": lead,
            "trail_silence_s": trail,
        }
        speech_s = float(speech.sum()) * self.vad.frame_s
        chars = spoken_chars(text)
        if chars_per_second and chars:
            scores["duration_ratio"] = speech_s / (chars / chars_per_second)
        if embeddings and self.speaker is not None:
            embedding = self.speaker.embed(x)
            sims = {name: _cosine(embedding, e) for name, e in embeddings.items()}
            nearest = max(sims, key=lambda name: (sims[name], name == own))
            scores["nearest"] = nearest
            scores["nearest_similarity"] = sims[nearest]
            if own in sims:
                others = [s for name, s in sims.items() if name != own]
                scores["similarity"] = sims[own]
                scores["margin"] = sims[own] - max(others) if others else 1.0
        return scores


def _cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else 0.0
