"""The ``fish-s1`` and ``fish-1.5`` voice-cloning engines behind refmgr's Engine Protocol.

One engine object holds the text-to-semantic model and the codec's decoder, loaded once,
for as many lines as the caller has. A line is: the reference's committed codes (cast
back to int64 on the device) and its transcript as the prompt, the text, the model's own
generation loop (upstream's ``generate_long``, which also decides how a long text is
split: fish-speech-lib's 1.5 code splits at sentence ends; the S1 code does not split),
then each generated segment decoded and the audio joined, as upstream's TTS engine does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from refmgr.backends.base import EngineSpec, Synthesis, VoiceReference
from refmgr.backends.fish import _adapter
from refmgr.backends.fish.device import (
    free_cached_memory,
    is_out_of_memory,
    resolve_device,
    resolve_precision,
)
from refmgr.backends.registry import codec_spec
from refmgr.checkpoints import Checkpoint
from refmgr.errors import BackendError
from refmgr.params import SynthesisParams

SAMPLE_RATE = 44100


class FishEngine:
    def __init__(
        self,
        spec: EngineSpec,
        *,
        checkpoint: Checkpoint | None = None,
        device: str | None = None,  # already folded into the checkpoint's settings
        settings: Any = None,  # fish engines are configured by [models.NAME]
    ) -> None:
        if checkpoint is None:
            raise BackendError(f"the {spec.id} engine needs its checkpoint")
        self.spec = spec
        self.checkpoint = checkpoint
        self.codec_spec = codec_spec(spec.id)  # each fish engine speaks through its own codec
        self.library = _adapter.library(spec.id)
        self.device = resolve_device(checkpoint.device)
        self.precision, self._dtype = resolve_precision(checkpoint.precision, self.device)
        # Models load on the first line: building the engine only to read its pins (render
        # status, --dry-run) must not read gigabytes of weights.
        self._models: tuple[_adapter.CodecModel, _adapter.SemanticModel] | None = None
        self._closed = False

    def pins(self) -> dict[str, Any]:
        checkpoint = self.checkpoint
        pins: dict[str, Any] = {
            "engine": self.spec.id,
            "library": self.library.to_json(),
            "checkpoint": {
                "files": dict(checkpoint.files),
                "config_sha256": _adapter.codec_config_sha256(
                    self.spec.id, checkpoint.codec_config
                ),
            },
            "device": self.device.type,
            "precision": self.precision,
        }
        if checkpoint.unpinned:
            pins["checkpoint"]["unpinned"] = True
        return pins

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        codec, llm = self._loaded()
        codes = self._check(reference, text, params)
        line = text if len(text) <= 60 else text[:59] + "…"
        try:
            segments = llm.generate(text, reference.transcript, codes, params)
            audio = [codec.decode(segment) for segment in segments if segment.shape[1] > 0]
        except _adapter.ContextTooLong as e:
            raise BackendError(
                f"text is too long for {self.spec.id}'s context: the reference '{reference.name}' "
                f"and the text take {e.prompt_tokens} tokens, the model takes at most "
                f"{e.limit}; split the line or use a shorter reference"
            ) from None
        except Exception as e:
            if is_out_of_memory(e):
                free_cached_memory(self.device)
                raise BackendError(
                    f"out of memory on {self.device} ({self.precision}) while speaking the line "
                    f"{line!r} in the voice of '{reference.name}'; try a shorter line or "
                    "--max-new-tokens"
                ) from None
            raise
        if not audio:
            raise BackendError(f"{self.spec.id} generated no audio for the line {line!r}")
        samples = torch.cat(audio).numpy()
        return Synthesis(np.clip(samples, -1.0, 1.0).astype(np.float32), SAMPLE_RATE)

    def _check(self, reference: VoiceReference, text: str, params: SynthesisParams) -> torch.Tensor:
        spec = self.codec_spec
        try:
            family = codec_spec(reference.codec_id).family
        except BackendError:
            family = reference.codec_id
        if family != spec.family:
            raise BackendError(
                f"reference '{reference.name}' holds {reference.codec_id} tokens; the "
                f"{self.spec.id} engine clones only from {spec.id} tokens (add the recording "
                f"again with: refmgr add --codec {spec.id} --force ...)"
            )
        if not reference.transcript.strip():
            raise BackendError(
                f"reference '{reference.name}' has no transcript; {self.spec.id} needs the words "
                "spoken in the reference to clone its voice"
            )
        if not text.strip():
            raise BackendError("the text to speak is empty")
        codes = np.asarray(reference.codes)
        if codes.ndim != 2 or codes.shape[0] != spec.n_codebooks or codes.shape[1] == 0:
            raise BackendError(
                f"reference '{reference.name}' codes have shape {list(codes.shape)}, "
                f"expected [{spec.n_codebooks}, frames]"
            )
        # The rules the render plan and `say` checked already: callers of the Python API
        # may not have.
        refused = self.spec.params.first_problem(params, self.spec.id)
        if refused is not None:
            raise BackendError(refused[1])
        return torch.from_numpy(codes.astype(np.int64)).to(self.device)

    def _loaded(self) -> tuple[_adapter.CodecModel, _adapter.SemanticModel]:
        if self._closed:
            raise BackendError(f"the {self.spec.id} engine was closed")
        if self._models is None:
            directory = self.checkpoint.directory
            try:
                self._models = (
                    _adapter.load_codec(
                        self.spec.id, directory, self.device, self.checkpoint.codec_config
                    ),
                    _adapter.load_semantic_model(self.spec.id, directory, self.device, self._dtype),
                )
            except Exception as e:
                if is_out_of_memory(e):
                    free_cached_memory(self.device)
                    raise BackendError(
                        f"out of memory on {self.device} while loading the {self.spec.id} "
                        f"model ({self.precision})",
                        directory,
                    ) from None
                raise
        return self._models

    def close(self) -> None:
        self._models = None
        self._closed = True
        free_cached_memory(self.device)
