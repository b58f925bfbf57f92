"""The ``fish-s1`` and ``fish-1.5`` codecs behind refmgr's Codec Protocol.

The model is loaded once per Codec object (``refmgr add`` makes one for all its files) and
always runs in fp32: tokens are what the repository keeps, and they should not depend on
the precision a GPU happens to prefer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from refmgr.backends.base import CodecSpec, Codes, FloatAudio
from refmgr.backends.fish import _adapter
from refmgr.backends.fish.device import free_cached_memory, is_out_of_memory, resolve_device
from refmgr.checkpoints import Checkpoint
from refmgr.errors import BackendError


class FishCodec:
    def __init__(self, spec: CodecSpec, *, checkpoint: Checkpoint) -> None:
        self.spec = spec
        self.checkpoint = checkpoint
        self.library = _adapter.library(spec.id)
        self.device = resolve_device(checkpoint.device)
        self._model = _adapter.load_codec(
            spec.id, checkpoint.directory, self.device, checkpoint.codec_config
        )

    def encode(self, samples: FloatAudio) -> Codes:
        seconds = len(samples) / self.spec.sample_rate
        try:
            codes = self._model.encode(torch.from_numpy(np.ascontiguousarray(samples)))
        except Exception as e:
            raise self._failure(e, f"encoding {seconds:.1f} s of audio") from None
        result: Codes = codes.numpy().astype(np.int64)
        return result

    def decode(self, codes: Codes) -> FloatAudio:
        spec = self.spec
        if codes.ndim != 2 or codes.shape[0] != spec.n_codebooks:
            raise BackendError(
                f"{spec.id} codes must have shape ({spec.n_codebooks}, frames), not {codes.shape}"
            )
        try:
            audio = self._model.decode(torch.from_numpy(codes.astype(np.int64)))
        except Exception as e:
            raise self._failure(e, f"decoding {codes.shape[1]} frames") from None
        samples: FloatAudio = np.clip(audio.numpy(), -1.0, 1.0).astype(np.float32)
        return samples

    def _failure(self, error: Exception, doing: str) -> BackendError:
        if is_out_of_memory(error):
            free_cached_memory(self.device)
            return BackendError(f"out of memory on {self.device} while {doing} with {self.spec.id}")
        if isinstance(error, BackendError):
            return error
        return BackendError(
            f"{self.spec.id} codec failed while {doing}: {type(error).__name__}: {error}"
        )

    def pins(self) -> dict[str, Any]:
        checkpoint: dict[str, Any] = {
            "files": dict(self.checkpoint.files),
            "config_sha256": self._model.config_sha256,
        }
        if self.checkpoint.unpinned:
            checkpoint["unpinned"] = True
        return {
            "library": self.library.to_json(),
            "checkpoint": checkpoint,
            "device": self.device.type,
            "precision": "fp32",
        }
