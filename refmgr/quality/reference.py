"""Measure a reference recording, and read the measures back from its manifest.

``measure_reference`` needs the QA extra; ``reference_embedding`` and
``reference_measures`` read the manifest's ``quality`` section and need nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from refmgr.audio import resample
from refmgr.quality import signal

RATE = 16000
EMBEDDING_DIGITS = 6  # decimals kept in the manifest: cosine similarities move < 1e-5
MEASURE_DIGITS = 4

EmbeddingSource = Literal["recording", "tokens"]


@dataclass(frozen=True)
class ReferenceQuality:
    measures: dict[str, float]
    embedding: list[float]
    embedding_source: EmbeddingSource
    pins: dict[str, str] = field(default_factory=dict)

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's ``quality`` section (schema: manifest.v1.json)."""
        return {
            "measures": {k: round(v, MEASURE_DIGITS) for k, v in sorted(self.measures.items())},
            "embedding": {
                "scorer": "speaker",
                "source": self.embedding_source,
                "values": [round(v, EMBEDDING_DIGITS) for v in self.embedding],
            },
            "pins": dict(sorted(self.pins.items())),
        }


def spoken_chars(text: str) -> int:
    """Characters a speaker says: letters and digits (punctuation and spaces take no time
    of their own). Speaking rates and expected durations both count this way."""
    return sum(1 for c in text if c.isalnum())


class ReferenceMeter:
    """The scorers a reference is measured with, loaded once for every recording of a call."""

    def __init__(self) -> None:
        from refmgr.quality.dnsmos import Dnsmos
        from refmgr.quality.loudness import Loudness
        from refmgr.quality.speaker import SpeakerEncoder
        from refmgr.quality.vad import VoiceActivity

        self.speaker = SpeakerEncoder()
        self.dnsmos = Dnsmos()
        self.loudness = Loudness()
        self.vad = VoiceActivity()

    def load(self) -> None:
        for scorer in (self.vad, self.loudness, self.speaker, self.dnsmos):
            scorer.load()

    def pins(self) -> dict[str, str]:
        pins: dict[str, str] = {}
        for scorer in (self.speaker, self.dnsmos, self.loudness, self.vad):
            pins.update(scorer.pins())
        return pins

    def measure(
        self,
        audio: npt.NDArray[np.float32],
        sample_rate: int,
        transcript: str,
        source: EmbeddingSource = "recording",
    ) -> ReferenceQuality:
        audio = np.asarray(audio, dtype=np.float32)
        x = resample(audio, sample_rate, RATE) if sample_rate != RATE else audio
        speech = self.vad.speech_frames(x)
        speech_s = float(speech.sum()) * self.vad.frame_s
        embedding, consistency = self.speaker.analyse(x)
        measures: dict[str, float] = {
            "duration_s": len(audio) / sample_rate,
            "speech_s": speech_s,
            "speech_ratio": float(speech.mean()) if len(speech) else 0.0,
            "snr_db": signal.snr_db(x, speech, int(RATE * self.vad.frame_s)),
            # Level measures on the samples as recorded, before resampling smooths them.
            "clipped_ratio": signal.clipped_ratio(audio),
            "lufs": self.loudness.integrated_lufs(audio, sample_rate),
            "true_peak_db": self.loudness.true_peak_db(audio),
            **self.dnsmos.score(x),
        }
        if speech_s > 0:
            measures["chars_per_second"] = spoken_chars(transcript) / speech_s
        if consistency is not None:
            measures["speaker_consistency"] = consistency
        return ReferenceQuality(
            measures=measures,
            embedding=[float(v) for v in embedding],
            embedding_source=source,
            pins=self.pins(),
        )


@functools.cache
def shared_meter() -> ReferenceMeter:
    return ReferenceMeter()


def measure_reference(
    audio: npt.NDArray[np.float32],
    sample_rate: int,
    transcript: str,
    source: EmbeddingSource = "recording",
) -> ReferenceQuality:
    """Every admission measure of a recording (mono float32), and its speaker embedding."""
    return shared_meter().measure(audio, sample_rate, transcript, source)


def _quality(manifest: Any) -> Mapping[str, Any] | None:
    data = getattr(manifest, "data", manifest)
    section = data.get("quality") if isinstance(data, Mapping) else None
    return section if isinstance(section, Mapping) else None


def reference_embedding(manifest: Any) -> npt.NDArray[np.float32] | None:
    """The speaker embedding stored in a manifest (a Manifest or its data), or None."""
    section = _quality(manifest)
    if section is None:
        return None
    return np.asarray(section["embedding"]["values"], dtype=np.float32)


def embedding_source(manifest: Any) -> EmbeddingSource | None:
    section = _quality(manifest)
    if section is None:
        return None
    source: EmbeddingSource = section["embedding"]["source"]
    return source


def reference_measures(manifest: Any) -> dict[str, float]:
    """The admission measures stored in a manifest (empty when it has none)."""
    section = _quality(manifest)
    return {} if section is None else {k: float(v) for k, v in section["measures"].items()}
