"""The one list of codecs and engines. Its keys are the ids manifests, refmgr.toml and the CLI accept."""

from __future__ import annotations

import importlib
from typing import Any

from refmgr.backends.base import (
    CheckpointLayout,
    Codec,
    CodecSpec,
    Engine,
    EngineSpec,
    ParamRules,
)
from refmgr.errors import BackendError

FISH_S1_INSTALL = (
    "pip install 'refmgr[fish]' and then pip install --no-deps fish-speech==0.1.0 "
    "descript-audio-codec==1.0.0 descript-audiotools==0.7.2, with the torch and torchaudio "
    "builds for your machine (README, 'Fish Speech on a GPU')"
)
FISH_15_INSTALL = (
    "pip install 'refmgr[fish-1-5]' and then pip install --no-deps fish-speech-lib==0.1.1.1, "
    "with the torch and torchaudio builds for your machine (README, 'Fish Speech on a GPU')"
)

FISH_S1_CHECKPOINT = CheckpointLayout(
    model="fish-s1",
    files=("codec.pth", "config.json", "model.pth", "special_tokens.json", "tokenizer.tiktoken"),
    codec_files=("codec.pth",),
    default_dir="checkpoints/openaudio-s1-mini",
    download=(
        "huggingface-cli download fishaudio/openaudio-s1-mini "
        "--local-dir checkpoints/openaudio-s1-mini"
    ),
)
FIREFLY_GENERATOR = "firefly-gan-vq-fsq-8x1024-21hz-generator.pth"
FISH_15_CHECKPOINT = CheckpointLayout(
    model="fish-1.5",
    files=(
        "config.json",
        FIREFLY_GENERATOR,
        "model.pth",
        "special_tokens.json",
        "tokenizer.tiktoken",
    ),
    codec_files=(FIREFLY_GENERATOR,),
    default_dir="checkpoints/fish-speech-1.5",
    download=(
        "huggingface-cli download fishaudio/fish-speech-1.5 --local-dir checkpoints/fish-speech-1.5"
    ),
)

# What the fish engines take: upstream's generation loop never runs with max_new_tokens 1
# and takes 0 as "up to the context"; temperature and repetition_penalty stay under 2
# (upstream's own HTTP API is stricter still: temperature 0.1-1, repetition_penalty 0.9-2).
FISH_PARAMS = ParamRules(
    temperature_below=2.0,
    repetition_penalty_below=2.0,
    min_new_tokens=2,
    unlimited_new_tokens=True,
)

# The fish engines' chunk: about 20 s of speech (English runs near 15 characters a second),
# which the model writes as ~430 semantic frames (21.5 a second) after ~80 text tokens. With
# a typical 10-30 s reference (its ~650 frames and transcript are the prompt) a chunk's
# whole sequence stays near 1,300 tokens: inside upstream's prompt limit (max_seq_len -
# 2048) of the 4096-token S1-mini and 1.5 models even for a 60 s reference, and in the
# range upstream's own text splitter uses (fish-speech 1.5 cuts at 200-300 bytes). Longer
# chunks also drift in voice more (upstream issue #597).
FISH_CHUNK_CHARS = 300

CODECS: dict[str, CodecSpec] = {
    "codec2-3200": CodecSpec(
        id="codec2-3200",
        family="codec2",
        summary="Codec2 3200 bit/s speech codec (8 kHz, 20 ms frames of 8 bytes)",
        distribution="pycodec2",
        sample_rate=8000,
        hop=160,
        n_codebooks=8,  # the 8 bytes of each 64-bit frame, one row per byte
        code_ranges=((0, 255),) * 8,
        storage_dtype="uint8",
        loader="refmgr.backends.codec2:Codec2Codec",
        install_hint="pip install pycodec2",
    ),
    "fish-s1": CodecSpec(
        id="fish-s1",
        family="fish-s1",
        summary="OpenAudio S1 modded-DAC codec (44.1 kHz, 1 semantic + 9 residual codebooks)",
        distribution="fish-speech",
        sample_rate=44100,
        hop=2048,
        n_codebooks=10,
        code_ranges=((0, 4095),) + ((0, 1023),) * 9,
        storage_dtype="int16",  # upstream writes int64; every code fits in int16
        loader="refmgr.backends.fish.codec:FishCodec",
        install_hint=FISH_S1_INSTALL,
        checkpoint=FISH_S1_CHECKPOINT,
    ),
    "fish-1.5": CodecSpec(
        id="fish-1.5",
        family="fish-1.5",
        summary="Fish Speech 1.4/1.5 firefly-gan-vq-fsq-8x1024-21hz codec (44.1 kHz, 8 FSQ codebooks)",
        distribution="fish-speech-lib",
        sample_rate=44100,
        hop=2048,
        n_codebooks=8,
        code_ranges=((0, 999),) * 8,  # FSQ levels 8*5*5*5
        storage_dtype="int16",  # upstream writes int32
        loader="refmgr.backends.fish.codec:FishCodec",
        install_hint=FISH_15_INSTALL,
        feature_hop=512,  # mel frames; a trailing partial one is dropped
        checkpoint=FISH_15_CHECKPOINT,
    ),
}

ENGINES: dict[str, EngineSpec] = {
    "draft": EngineSpec(
        id="draft",
        summary="scratch voice for timing and CI: eSpeak NG with the reference's pitch and "
        "speaking rate (not a clone)",
        distribution="espeakng-loader",
        codec_families=None,  # uses the voice profile, so any reference will do
        loader="refmgr.backends.draft:DraftEngine",
        install_hint="pip install espeakng-loader",
        draft=True,
        settings_key="draft",
        phonemes="espeak",
        # eSpeak has no context limit: this only bounds what one edit re-renders (a few
        # sentences, ~25 s of speech) and the memory of one utterance.
        max_chunk_chars=400,
    ),
    "fish-s1": EngineSpec(
        id="fish-s1",
        summary="OpenAudio S1 DualAR text-to-semantic model + modded-DAC decoder (voice clone)",
        distribution="fish-speech",
        codec_families=frozenset({"fish-s1"}),
        loader="refmgr.backends.fish.engine:FishEngine",
        install_hint=FISH_S1_INSTALL,
        checkpoint=FISH_S1_CHECKPOINT,
        params=FISH_PARAMS,
        max_chunk_chars=FISH_CHUNK_CHARS,
    ),
    "fish-1.5": EngineSpec(
        id="fish-1.5",
        summary="Fish Speech 1.5 DualAR text-to-semantic model + firefly decoder (voice clone)",
        distribution="fish-speech-lib",
        codec_families=frozenset({"fish-1.5"}),
        loader="refmgr.backends.fish.engine:FishEngine",
        install_hint=FISH_15_INSTALL,
        checkpoint=FISH_15_CHECKPOINT,
        params=FISH_PARAMS,
        max_chunk_chars=FISH_CHUNK_CHARS,
    ),
}


def checkpoint_layouts() -> dict[str, CheckpointLayout]:
    """Every model with weights, by its [models.NAME] key."""
    specs: list[CodecSpec | EngineSpec] = [*CODECS.values(), *ENGINES.values()]
    return {s.checkpoint.model: s.checkpoint for s in specs if s.checkpoint is not None}


def codec_spec(codec_id: str) -> CodecSpec:
    try:
        return CODECS[codec_id]
    except KeyError:
        raise BackendError(
            f"unknown codec '{codec_id}' (known: {', '.join(sorted(CODECS))})"
        ) from None


def engine_spec(engine_id: str) -> EngineSpec:
    try:
        return ENGINES[engine_id]
    except KeyError:
        raise BackendError(
            f"unknown engine '{engine_id}' (known: {', '.join(sorted(ENGINES)) or 'none'})"
        ) from None


def _import(loader: str, what: str, install_hint: str) -> Any:
    module_name, _, attr = loader.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise BackendError(
            f"{what} is not installed ({e}); install it with: {install_hint}"
        ) from None
    return getattr(module, attr)


def load_codec(codec_id: str, **settings: Any) -> Codec:
    spec = codec_spec(codec_id)
    factory = _import(spec.loader, f"codec '{codec_id}'", spec.install_hint)
    codec: Codec = factory(spec, **settings)
    return codec


def load_engine(
    engine_id: str,
    *,
    device: str | None = None,
    settings: Any = None,
    checkpoint: Any = None,
) -> Engine:
    """Build an engine (cheap: models load on first use).

    Every engine factory takes the same keywords: ``device`` (what --device asked for),
    ``settings`` (its table of refmgr.toml, ``EngineSpec.settings_key``) and
    ``checkpoint`` (a checked ``refmgr.checkpoints.Checkpoint`` for engines with weights).
    ``refmgr.checkpoints.open_engine`` fills them in from a project.
    """
    spec = engine_spec(engine_id)
    factory = _import(spec.loader, f"engine '{engine_id}'", spec.install_hint)
    engine: Engine = factory(spec, device=device, settings=settings, checkpoint=checkpoint)
    return engine
