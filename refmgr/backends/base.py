"""The contracts every codec and engine implements, and their static descriptions.

A *spec* is plain data, importable without any backend library: the validator and the
CLI read code ranges and ids from specs. The implementation behind a spec is loaded by
``registry.load_codec`` / ``registry.load_engine`` only when something is encoded,
decoded or synthesized.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from refmgr.params import SynthesisParams, param_problem

FloatAudio = npt.NDArray[np.float32]
Codes = npt.NDArray[np.integer[Any]]


@dataclass(frozen=True)
class CheckpointLayout:
    """The files of a model checkpoint directory, as the model hub ships them.

    A codec and an engine of one model share a layout (and one ``[models.NAME]`` table of
    refmgr.toml): the codec loads only ``codec_files``, the engine all of ``files``.
    """

    model: str  # key of [models.NAME] in refmgr.toml, e.g. "fish-s1"
    files: tuple[str, ...]
    codec_files: tuple[str, ...]
    default_dir: str  # where upstream's docs put it, relative to the working directory
    download: str  # the exact command that fetches it from the model hub


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
    # Samples per encoder feature frame, for encoders that drop a trailing partial feature
    # frame before grouping features into token frames (firefly: 512-sample mel frames, 4 to
    # a token). 1: nothing dropped, frames = ceil(samples / hop).
    feature_hop: int = 1
    checkpoint: CheckpointLayout | None = None  # None: the codec needs no weights

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def frames_for(self, n_samples: int) -> int:
        features = n_samples // self.feature_hop
        per_frame = self.hop // self.feature_hop
        return -(-features // per_frame)  # ceil, in integers


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
class ParamRules:
    """The synthesis parameters an engine takes, beyond the rules every engine shares
    (``config.param_problem``, which refmgr.toml and scripts are checked with).

    Plain data, so that a render plan and ``say`` refuse a value before any model loads,
    and the engine checks the same rules itself.
    """

    temperature_below: float | None = None  # exclusive upper bound; None: no bound
    repetition_penalty_below: float | None = None
    min_new_tokens: int = 1  # the smallest max_new_tokens the engine can generate with
    unlimited_new_tokens: bool = False  # max_new_tokens = 0 means "up to the context"

    def problem(self, name: str, value: float, engine: str) -> str | None:
        """Why ``engine`` cannot take ``value`` for parameter ``name``, or None."""
        if not math.isfinite(value):
            return f"{name} must be a finite number, not {value}"
        if name == "max_new_tokens":
            if value == 0 and self.unlimited_new_tokens:
                return None
            if value < max(self.min_new_tokens, 1):
                zero = "0 (no limit but the context) or " if self.unlimited_new_tokens else ""
                return (
                    f"max_new_tokens must be {zero}at least {max(self.min_new_tokens, 1)} "
                    f"with the {engine} engine, not {value}"
                )
        shared = param_problem(name, value)
        if shared is not None:
            return shared
        below = {
            "temperature": self.temperature_below,
            "repetition_penalty": self.repetition_penalty_below,
        }.get(name)
        if below is not None and not value < below:
            return f"{name} must be below {below:g} with the {engine} engine, not {value}"
        return None

    def first_problem(self, params: SynthesisParams, engine: str) -> tuple[str, str] | None:
        """The first parameter of ``params`` that ``engine`` cannot take, and why."""
        for name in SynthesisParams.__dataclass_fields__:
            problem = self.problem(name, getattr(params, name), engine)
            if problem is not None:
                return name, problem
        return None


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
    # The table under [engines] in refmgr.toml that configures it (a field of
    # config.EngineSettings), handed to the factory as ``settings``; None: no settings.
    settings_key: str | None = None
    checkpoint: CheckpointLayout | None = None  # None: the engine needs no weights
    params: ParamRules = ParamRules()  # what synthesis parameters it takes
    # Phonemes it reads in text, as lexicon.toml's `phonemes` spell them ("espeak": eSpeak
    # NG mnemonics in [[...]]); None: text only, lexicon entries give it their `say`.
    phonemes: str | None = None
    # The longest text (in characters) the engine is given at once: a longer line is split
    # at sentence ends into chunks of at most this many (refmgr.render.chunks), which
    # refmgr.toml's [render] chunk_chars can lower. Bounds memory and context per call and
    # is the unit of re-rendering after an edit.
    max_chunk_chars: int = 400

    def param_problem(self, name: str, value: float) -> str | None:
        return self.params.problem(name, value, self.id)


@dataclass(frozen=True)
class VoiceReference:
    """What an engine gets of a reference: verified codes plus what the manifest says."""

    name: str
    codec_id: str
    codes: Codes  # in the stored dtype (often uint8/int16): cast before handing to a model
    tokens_sha256: str  # identifies the codes: engines may memoise per-reference work on it
    transcript: str
    language: str | None
    # The manifest's voice profile (f0_median_hz, speaking_rate_wpm); values may be None.
    profile: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Synthesis:
    audio: FloatAudio  # mono, in [-1, 1]
    sample_rate: int


class Engine(Protocol):
    """Speaks text in a reference's voice. Loaded once, used for many lines.

    Built by ``registry.load_engine`` as ``factory(spec, device=, settings=, checkpoint=)``.
    Building must be cheap (no weights loaded): ``render status`` and ``--dry-run`` build
    the engine only to read ``pins``. Load models on the first ``synthesize`` and keep them
    until ``close``. The same reference, text and params must give the same audio where
    the engine can promise it (the draft engine always; Fish Speech on CPU).
    """

    spec: EngineSpec

    def pins(self) -> dict[str, Any]:
        """Everything about the engine that changes the sound (versions, checkpoint hashes,
        device or precision where they matter). JSON-able; part of every line's cache key."""
        ...

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class LineRequest:
    """One line for ``synthesize_many``: what ``synthesize`` takes, as a value."""

    reference: VoiceReference
    text: str
    params: SynthesisParams


# What ``synthesize_many`` yields for each request: its index in the list given, and its
# audio or the exception that request failed with.
LineResult = tuple[int, Synthesis | Exception]


class BatchEngine(Engine, Protocol):
    """An engine (or an executor standing in for one) that speaks many lines at once.

    ``synthesize_many`` yields one ``(index, Synthesis | Exception)`` for every request, in
    the order they finish (not necessarily the order given), each index exactly once. A
    request that fails yields its exception and does not fail the others; only what ends
    the whole run (Ctrl-C, a dead device) is raised. The caller may stop iterating at any
    time (Ctrl-C): the engine must then leave nothing running. A request's audio must not
    depend on which other requests share its batch, or the engine must say in its pins
    what the bytes depend on.
    """

    def synthesize_many(self, requests: Sequence[LineRequest]) -> Iterator[LineResult]: ...


def synthesize_many(engine: Engine, requests: Sequence[LineRequest]) -> Iterator[LineResult]:
    """``engine.synthesize_many`` where the engine has it, else one ``synthesize`` per line."""
    many = getattr(engine, "synthesize_many", None)
    if many is not None:
        yield from many(requests)
        return
    for index, request in enumerate(requests):
        try:
            synthesis: Synthesis | Exception = engine.synthesize(
                request.reference, request.text, request.params
            )
        except Exception as e:  # one line's failure; Ctrl-C and the like still end the run
            synthesis = e
        yield index, synthesis
