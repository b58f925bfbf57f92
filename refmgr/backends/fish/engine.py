"""The ``fish-s1`` and ``fish-1.5`` voice-cloning engines behind refmgr's Engine Protocol.

One engine object holds the text-to-semantic model and the codec's decoder, loaded once,
for as many lines as the caller has. A line is: the reference's committed codes (cast
back to int64 on the device) and its transcript as the prompt, the text, a generation
loop, then each generated segment decoded and the audio joined, as upstream's TTS engine
does.

Both engines render lines in batches (``synthesize_many``; ``synthesize`` is a batch of
one): lines that share a reference, up to ``max_batch`` at a time, through refmgr's own
batched loop (``_batch``, which mirrors each library's generation step for step). What a
batched line's bytes depend on (the reproducibility guarantee):

- CPU (plan "row-invariant"): its reference, text and parameters only. Its codes equal
  upstream's one-line ``generate_long`` with the same seed, and its audio the decoder's
  output for those codes, whatever batch it shares, in whatever order, with whatever
  failing batch-mates, at any ``max_batch``. The pins do not mention the batch.
- CUDA/MPS (plan "batched"): also on ``max_batch`` (every batch is padded to that many
  rows, so the GPU's kernels see one shape), which the pins record as ``batch``; not on
  the batch-mates. A re-render with the same ``max_batch`` on the same device and
  libraries gives the same bytes as far as the GPU's kernels are deterministic.

A fish-1.5 text that fish-speech-lib splits into several segments (over 150 characters,
each segment prompted with the ones before) runs alone through upstream's
``generate_long``, so its bytes are upstream's too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from refmgr.backends.base import (
    EngineSpec,
    LineRequest,
    LineResult,
    Synthesis,
    VoiceReference,
)
from refmgr.backends.fish import _adapter, _batch
from refmgr.backends.fish.device import (
    batch_rows_for_memory,
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
CPU_BATCH = 8  # rows per batch on CPU when max_batch is None: measured the best on 2 cores


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
        # Lines per batch; None: chosen from the device (batch_rows). Set before the first
        # line (the CLI's --batch): on a GPU it is part of the pins.
        self.max_batch: int | None = None
        self._generator: _batch.BatchGenerator | None = None
        self._prefixes: dict[tuple[str, str], int] = {}  # per reference: prompt prefix length
        self._config_digest: str | None = None

    def pins(self) -> dict[str, Any]:
        checkpoint = self.checkpoint
        pins: dict[str, Any] = {
            "engine": self.spec.id,
            "library": self.library.to_json(),
            "checkpoint": {
                "files": dict(checkpoint.files),
                "config_sha256": self._config_sha256(),
            },
            "device": self.device.type,
            "precision": self.precision,
        }
        if checkpoint.unpinned:
            pins["checkpoint"]["unpinned"] = True
        plan = self.batch_plan()
        if plan.kind == "batched":
            pins["batch"] = {"plan": plan.kind, "rows": plan.rows}
        return pins

    def _config_sha256(self) -> str:
        # Composing the codec's Hydra config to hash it is the slow part of pins(): once.
        if self._config_digest is None:
            self._config_digest = _adapter.codec_config_sha256(
                self.spec.id, self.checkpoint.codec_config
            )
        return self._config_digest

    def batch_rows(self) -> int:
        """Lines per batch: max_batch, else a CPU default, else what device memory holds."""
        if self.max_batch is not None:
            if self.max_batch < 1:
                raise BackendError(f"the batch size must be at least 1, not {self.max_batch}")
            return self.max_batch
        if self.device.type != "cuda":
            return CPU_BATCH
        return batch_rows_for_memory(self.device, self.checkpoint.directory, self._dtype)

    def batch_plan(self) -> _batch.Plan:
        """How lines are batched here (see the module docstring)."""
        kind: _batch.PlanKind = "row-invariant" if self.device.type == "cpu" else "batched"
        return _batch.Plan(kind, self.batch_rows())

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        # A batch of one: the same bytes as in any batch.
        ((_, result),) = self.synthesize_many([LineRequest(reference, text, params)])
        if isinstance(result, Exception):
            raise result
        return result

    def _synthesize_alone(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        """One line through upstream's generate_long (fish-1.5 text of several sentences)."""
        codec, llm = self._loaded()
        codes = self._check(reference, text, params)
        line = text if len(text) <= 60 else text[:59] + "…"
        try:
            segments = llm.generate(text, reference.transcript, codes, params)
            audio = [codec.decode(segment) for segment in segments if segment.shape[1] > 0]
        except _adapter.ContextTooLong as e:
            raise self._too_long(reference, e) from None
        except Exception as e:
            if is_out_of_memory(e):
                free_cached_memory(self.device)
                raise BackendError(
                    f"out of memory on {self.device} ({self.precision}) while speaking the line "
                    f"{line!r} in the voice of '{reference.name}'; try a shorter line or "
                    "--max-new-tokens"
                ) from None
            raise
        return self._audio(audio, line)

    def _audio(self, audio: list[torch.Tensor], line: str) -> Synthesis:
        if not audio:
            raise BackendError(f"{self.spec.id} generated no audio for the line {line!r}")
        samples = torch.cat(audio).numpy()
        return Synthesis(np.clip(samples, -1.0, 1.0).astype(np.float32), SAMPLE_RATE)

    def _too_long(self, reference: VoiceReference, e: _adapter.ContextTooLong) -> BackendError:
        return BackendError(
            f"text is too long for {self.spec.id}'s context: the reference '{reference.name}' "
            f"and the text take {e.prompt_tokens} tokens, the model takes at most "
            f"{e.limit}; split the line or use a shorter reference"
        )

    def synthesize_many(self, requests: Sequence[LineRequest]) -> Iterator[LineResult]:
        """Each request's audio or failure as it finishes (BatchEngine). Lines are checked
        one by one first, so a bad line never reaches, or fails, a batch."""
        plan = self.batch_plan()
        codec, llm = self._loaded()
        groups: dict[tuple[str, str, str], list[tuple[int, _batch.Line]]] = {}
        alone: list[int] = []
        for index, request in enumerate(requests):
            try:
                line = self._line(llm, request)
            except Exception as e:
                yield index, e
                continue
            if line is None:
                alone.append(index)
                continue
            reference = request.reference
            key = (reference.name, reference.tokens_sha256, reference.transcript)
            groups.setdefault(key, []).append((index, line))
        generator = self._batch_generator(llm, plan)
        for group in groups.values():
            for start in range(0, len(group), plan.rows):
                batch = group[start : start + plan.rows]
                yield from self._run_batch(generator, codec, requests, batch)
        for index in alone:
            request = requests[index]
            try:
                result: Synthesis | Exception = self._synthesize_alone(
                    request.reference, request.text, request.params
                )
            except Exception as e:  # this line's failure; Ctrl-C still ends the run
                result = e
            yield index, result

    def _line(self, llm: _adapter.SemanticModel, request: LineRequest) -> _batch.Line | None:
        """The line as the batched loop takes it; None: it runs alone (upstream's loop)."""
        reference, params = request.reference, request.params
        codes = self._check(reference, request.text, params)
        key = (reference.tokens_sha256, reference.transcript)
        try:
            prompt = llm.prompt(request.text, reference.transcript, codes)
            if prompt is None:
                return None
            if key not in self._prefixes:
                self._prefixes[key] = llm.reference_prefix(reference.transcript, codes)
        except _adapter.ContextTooLong as e:
            raise self._too_long(reference, e) from None
        return _batch.Line(
            prompt=prompt,
            prefix=self._prefixes[key],
            seed=params.seed,
            temperature=params.temperature,
            top_p=params.top_p,
            repetition_penalty=params.repetition_penalty,
            max_new_tokens=params.max_new_tokens,
        )

    def _batch_generator(
        self, llm: _adapter.SemanticModel, plan: _batch.Plan
    ) -> _batch.BatchGenerator:
        if self._generator is None or self._generator.plan != plan:
            dialect = _batch.S1 if self.spec.id == _adapter.S1 else _batch.V15
            self._generator = _batch.BatchGenerator(llm.module, plan, dialect)
        return self._generator

    def _run_batch(
        self,
        generator: _batch.BatchGenerator,
        codec: _adapter.CodecModel,
        requests: Sequence[LineRequest],
        batch: list[tuple[int, _batch.Line]],
    ) -> Iterator[LineResult]:
        pending = {index for index, _ in batch}
        try:
            for row, codes in generator.generate([line for _, line in batch]):
                index = batch[row][0]
                pending.discard(index)
                text = requests[index].text
                label = text if len(text) <= 60 else text[:59] + "…"
                try:
                    audio = [codec.decode(codes.to(torch.long))] if codes.shape[1] > 0 else []
                    result: Synthesis | Exception = self._audio(audio, label)
                except Exception as e:  # this line's decoding failed, not its batch-mates'
                    result = self._out_of_memory(e, requests[index]) or e
                yield index, result
        except Exception as e:  # the batch's generation failed: every unfinished line fails
            for index in sorted(pending):
                yield index, self._out_of_memory(e, requests[index]) or e

    def _out_of_memory(self, error: Exception, request: LineRequest) -> BackendError | None:
        if not is_out_of_memory(error):
            return None
        free_cached_memory(self.device)
        text = request.text if len(request.text) <= 60 else request.text[:59] + "…"
        return BackendError(
            f"out of memory on {self.device} ({self.precision}) while speaking the line "
            f"{text!r} in the voice of '{request.reference.name}' in a batch of "
            f"{self.batch_rows()}; try a smaller --batch, a shorter line or --max-new-tokens"
        )

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
                        self.spec.id,
                        directory,
                        self.device,
                        self.checkpoint.codec_config,
                        self._config_sha256(),
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
        self._generator = None
        self._closed = True
        free_cached_memory(self.device)
