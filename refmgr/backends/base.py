"""The contracts every codec and engine implements, and their static descriptions.

A *spec* is plain data, importable without any backend library: the validator and the
CLI read code ranges and ids from specs. The implementation behind a spec is loaded by
``registry.load_codec`` / ``registry.load_engine`` only when something is encoded,
decoded or synthesized.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

FloatAudio = npt.NDArray[np.float32]
Codes = npt.NDArray[np.integer[Any]]


@dataclass(frozen=True)
class CodecSpec:
    id: str
    family: str  # tokens of one family are interchangeable; engines declare families
    summary: str
    distribution: str  # the PyPI distribution that carries the code, pinned in manifests
    sample_rate: int
    hop: int  # input samples per token frame
    n_codebooks: int
    code_ranges: tuple[tuple[int, int], ...]  # inclusive (low, high) per codebook
    storage_dtype: str  # numpy dtype name tokens are stored with
    loader: str  # "module:attribute" of the implementation, imported on first use
    install_hint: str

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def frames_for(self, n_samples: int) -> int:
        return math.ceil(n_samples / self.hop)


class Codec(Protocol):
    """Turns mono audio at ``spec.sample_rate`` into ``(n_codebooks, frames)`` codes and back.

    ``encode`` of the same samples must give the same codes whatever was encoded before;
    ``decode`` of the same codes must give the same samples.
    """

    spec: CodecSpec

    def encode(self, samples: FloatAudio) -> Codes: ...

    def decode(self, codes: Codes) -> FloatAudio: ...

    def pins(self) -> dict[str, Any]:
        """What, beyond the library version, must match for tokens to mean the same."""
        ...


@dataclass(frozen=True)
class EngineSpec:
    id: str
    summary: str
    distribution: str
    # Codec families whose tokens the engine can clone from; None: any reference.
    codec_families: frozenset[str] | None
    loader: str
    install_hint: str
    # True for scratch voices that are not a clone of the reference (marked in outputs).
    draft: bool = False


@dataclass(frozen=True)
class VoiceReference:
    """What an engine gets of a reference: verified codes plus what the manifest says."""

    name: str
    codec_id: str
    codes: Codes
    transcript: str
    language: str | None
    profile: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SynthesisParams:
    seed: int = 0
    temperature: float = 0.7
    top_p: float = 0.7
    repetition_penalty: float = 1.2
    max_new_tokens: int = 1024


@dataclass(frozen=True)
class Synthesis:
    audio: FloatAudio  # mono, in [-1, 1]
    sample_rate: int


class Engine(Protocol):
    """Speaks text in a reference's voice. Loaded once, used for many lines."""

    spec: EngineSpec

    def pins(self) -> dict[str, Any]:
        """Everything about the engine that changes the sound (versions, checkpoint hashes)."""
        ...

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis: ...

    def close(self) -> None: ...
