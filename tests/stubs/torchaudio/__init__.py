"""A CPU stand-in for torchaudio, for refmgr's tests only (see tests/stubs/README.md).

Audio I/O goes through soundfile; anything not provided fails loudly on first use.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile
import torch

from . import functional, transforms

__version__ = "0.0.0+refmgr.tests"
__all__ = ["functional", "info", "list_audio_backends", "load", "save", "transforms"]


@dataclass
class AudioMetaData:
    sample_rate: int
    num_frames: int
    num_channels: int
    bits_per_sample: int = 0
    encoding: str = "UNKNOWN"


def _source(uri: Any) -> Any:
    if isinstance(uri, str | os.PathLike):
        return os.fspath(uri)
    if isinstance(uri, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(uri))
    return uri


def list_audio_backends() -> list[str]:
    return ["soundfile"]


def info(
    uri: Any, format: Any = None, buffer_size: int = 4096, backend: Any = None
) -> AudioMetaData:
    i = soundfile.info(_source(uri))
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}.get(i.subtype, 0)
    return AudioMetaData(int(i.samplerate), int(i.frames), int(i.channels), bits, i.subtype)


def load(
    uri: Any,
    frame_offset: int = 0,
    num_frames: int = -1,
    normalize: bool = True,
    channels_first: bool = True,
    format: Any = None,
    buffer_size: int = 4096,
    backend: Any = None,
) -> tuple[torch.Tensor, int]:
    if not normalize:
        raise NotImplementedError("torchaudio stand-in: only normalize=True")
    stop = None if num_frames < 0 else frame_offset + num_frames
    data, rate = soundfile.read(
        _source(uri), start=frame_offset, stop=stop, dtype="float32", always_2d=True
    )
    wav = torch.from_numpy(np.ascontiguousarray(data))
    return (wav.T.contiguous() if channels_first else wav), int(rate)


def save(
    uri: Any, src: torch.Tensor, sample_rate: int, channels_first: bool = True, **_: Any
) -> None:
    x = src.detach().cpu()
    x = x[None] if x.ndim == 1 else x
    x = x.T if channels_first else x
    fmt = None if isinstance(uri, str | os.PathLike) else "WAV"
    soundfile.write(_source(uri), x.numpy().astype(np.float32), int(sample_rate), format=fmt)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"torchaudio stand-in has no {name!r} (install the real torchaudio)")
