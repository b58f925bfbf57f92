"""The one list of codecs and engines. Its keys are the ids manifests, refmgr.toml and the CLI accept."""

from __future__ import annotations

import importlib
from typing import Any

from refmgr.backends.base import Codec, CodecSpec, Engine, EngineSpec
from refmgr.errors import BackendError

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
    ),
}


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


def load_engine(engine_id: str, *, device: str | None = None, settings: Any = None) -> Engine:
    """Build an engine (cheap: models load on first use). ``settings`` is its table of
    refmgr.toml (``EngineSpec.settings_key``), ``device`` what --device asked for."""
    spec = engine_spec(engine_id)
    factory = _import(spec.loader, f"engine '{engine_id}'", spec.install_hint)
    engine: Engine = factory(spec, device=device, settings=settings)
    return engine
