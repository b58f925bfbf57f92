"""Everything refmgr does with fish-speech code, in one place (STYLE habit 8).

Two libraries carry the models:
- ``fish_speech`` from PyPI fish-speech==0.1.0: OpenAudio S1 (modded DAC codec, DualAR model);
- ``fish_speech_lib.fish_speech`` from PyPI fish-speech-lib==0.1.1.1: the Fish Speech 1.5 code
  (firefly-gan-vq codec, DualAR model), with a changed generation API (``seed=`` argument,
  caches set up by the caller, prompt codes as int32).

Their traps, handled here and nowhere else:
- both register an OmegaConf resolver named "eval" when their codec module is imported, and
  OmegaConf refuses a second registration: the old one is cleared before each import;
- ``fish_speech.models.dac.inference`` calls pyrootutils at import and needs a
  ``.project-root`` file above site-packages (reported with the command that creates it);
- S1's ``load_model`` builds the codec from a Hydra config found in the package's configs
  folder, by name; the config is hashed here so manifests pin the architecture;
- both log through loguru and draw tqdm bars on stderr: silenced, since refmgr's errors are
  one line and its progress is its own.

The functions take and return torch tensors; numpy, checks and error wording for users are
the callers' (codec.py, engine.py).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import json
import sys
import sysconfig
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from refmgr.backends.registry import FIREFLY_GENERATOR, codec_spec
from refmgr.errors import BackendError
from refmgr.params import SynthesisParams
from refmgr.versions import installed_version

S1 = "fish-s1"
V15 = "fish-1.5"
S1_CODEC_CONFIG = "modded_dac_vq"
V15_CHUNK_LENGTH = 150  # fish-speech-lib's generate_long splits text into chunks of this  # the stock config of openaudio-s1-mini's codec.pth
S1_LOGGERS = ("fish_speech",)
V15_LOGGERS = ("fish_speech_lib",)


class ContextTooLong(Exception):
    """The reference plus the text do not fit the model's context."""

    def __init__(self, prompt_tokens: int, limit: int) -> None:
        super().__init__(f"{prompt_tokens} > {limit}")
        self.prompt_tokens = prompt_tokens
        self.limit = limit


@dataclass(frozen=True)
class Library:
    name: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


def library(model: str) -> Library:
    """The distribution whose code runs MODEL, after checking it is the right one."""
    spec = codec_spec(model)
    if model == S1:
        if importlib.util.find_spec("fish_speech") is None:
            raise BackendError(
                f"fish-speech is not installed; install it with: {spec.install_hint}"
            )
        if importlib.util.find_spec("fish_speech.models.dac") is None:
            version = installed_version("fish-speech") or "unknown"
            raise BackendError(
                f"the installed fish-speech {version} is not the OpenAudio S1 release "
                f"(it has no fish_speech.models.dac); fish-s1 needs fish-speech==0.1.0: "
                f"{spec.install_hint}"
            )
        return Library("fish-speech", installed_version("fish-speech") or "unknown")
    if importlib.util.find_spec("fish_speech_lib") is None:
        raise BackendError(
            f"fish-speech-lib (the Fish Speech 1.5 code) is not installed; install it with: "
            f"{spec.install_hint}"
        )
    return Library("fish-speech-lib", installed_version("fish-speech-lib") or "unknown")


def _import(module: str, model: str) -> Any:
    spec = codec_spec(model)
    _quiet_upstream()
    if module not in sys.modules:
        from omegaconf import OmegaConf

        # Both libraries register OmegaConf's "eval" resolver (the builtin eval) when their
        # codec module is first imported, and fish_speech_lib imports its own from its
        # package __init__; OmegaConf refuses a second registration.
        if OmegaConf.has_resolver("eval"):
            OmegaConf.clear_resolver("eval")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise BackendError(
            f"cannot load {model}: module {e.name!r} is missing; install it with: "
            f"{spec.install_hint}"
        ) from None
    except FileNotFoundError as e:
        if ".project-root" not in str(e):
            raise
        marker = Path(sysconfig.get_path("purelib")).parent / ".project-root"
        raise BackendError(
            "fish-speech 0.1.0 looks for a .project-root file above its install folder "
            f"(pyrootutils); create it with: touch {marker}"
        ) from None


def codec_module(model: str) -> Any:
    """The upstream module with the codec's load_model (imported once, resolver clash handled)."""
    name = (
        "fish_speech.models.dac.inference"
        if model == S1
        else "fish_speech_lib.fish_speech.models.vqgan.inference"
    )
    return _import(name, model)


def _quiet_upstream() -> None:
    from loguru import logger

    for name in (*S1_LOGGERS, *V15_LOGGERS):
        logger.disable(name)


def _silence_progress(module: Any) -> Any:
    """The generation loops draw a tqdm bar per segment on stderr; refmgr reports its own."""
    bar = getattr(module, "tqdm", None)
    if bar is not None and not isinstance(bar, functools.partial):
        module.tqdm = functools.partial(bar, disable=True)
    return module


@contextlib.contextmanager
def _upstream_call() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- codecs ----------------------------------------------------------------------------------


@dataclass
class CodecModel:
    model: str
    module: Any  # the upstream nn.Module
    config_sha256: str
    device: torch.device

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Mono float samples [S] at 44.1 kHz -> codes [n_codebooks, T] int64."""
        batch = audio.to(self.device, torch.float32)[None, None]
        lengths = torch.tensor([audio.shape[0]], device=self.device, dtype=torch.long)
        with _upstream_call(), torch.inference_mode():
            codes, _ = self.module.encode(batch, lengths)
        return codes[0].to("cpu", torch.long)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [n_codebooks, T] -> mono float32 samples [T * 2048]."""
        indices = codes.to(self.device, torch.long)[None]
        lengths = torch.tensor([codes.shape[1]], device=self.device, dtype=torch.long)
        with _upstream_call(), torch.inference_mode():
            audio, _ = self.module.decode(indices=indices, feature_lengths=lengths)
        return audio[0, 0].to("cpu", torch.float32)


def codec_config_sha256(model: str, config_name: str | None = None) -> str:
    """sha256 of the config that builds the codec, found without loading any weights."""
    module = codec_module(model)
    if model == S1:
        return _s1_config_sha256(module, config_name or S1_CODEC_CONFIG)
    if config_name is not None:
        raise BackendError(
            "fish-1.5's codec has one fixed architecture; remove models.fish-1.5.codec_config"
        )
    from fish_speech_lib.config import FIREFLY_GAN_VQ_CONFIG

    return _sha256_json(FIREFLY_GAN_VQ_CONFIG)


def load_codec(
    model: str,
    directory: Path,
    device: torch.device,
    config_name: str | None = None,
    config_sha256: str | None = None,
) -> CodecModel:
    """CONFIG_SHA256: the config's hash where the caller has it already (an engine's pins);
    composing the config only to hash it again costs as much as loading the tiny codec."""
    digest = config_sha256 or codec_config_sha256(model, config_name)
    module = codec_module(model)
    if model == S1:
        path = directory / "codec.pth"
        with _upstream_call(), _load_errors(path):
            net = module.load_model(config_name or S1_CODEC_CONFIG, str(path), device=str(device))
    else:
        path = directory / FIREFLY_GENERATOR
        with _upstream_call(), _load_errors(path):
            net = module.load_model(str(path), device=str(device))
    return CodecModel(model, net, digest, device)


def _s1_config_sha256(module: Any, name: str) -> str:
    """sha256 of the composed codec config: the same search load_model does, then hashed."""
    import hydra
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    configs = Path(module.__file__).resolve().parents[2] / "configs"
    hydra.core.global_hydra.GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(configs)):
            cfg = compose(config_name=name)
    except hydra.errors.MissingConfigException:
        raise BackendError(
            f"no codec config '{name}' in {configs} (models.fish-s1.codec_config in refmgr.toml); "
            f"the OpenAudio S1 checkpoints use '{S1_CODEC_CONFIG}'"
        ) from None
    finally:
        hydra.core.global_hydra.GlobalHydra.instance().clear()
    text = OmegaConf.to_yaml(cfg, resolve=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def _load_errors(path: Path) -> Iterator[None]:
    """A checkpoint file torch cannot read is reported as corrupt, naming the file."""
    try:
        yield
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, AttributeError) as e:
        if isinstance(e, BackendError):
            raise
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BackendError(
            f"cannot load this checkpoint file (corrupt, truncated, or not for this model): "
            f"{detail[:200]}",
            path,
        ) from None


# --- text-to-semantic models ---------------------------------------------------------------


@dataclass
class SemanticModel:
    model: str
    module: Any
    decode_one_token: Any
    device: torch.device

    @property
    def context(self) -> int:
        return int(self.module.config.max_seq_len)

    def generate(
        self, text: str, transcript: str, codes: torch.Tensor, sampling: SynthesisParams
    ) -> list[torch.Tensor]:
        """Semantic codes [n_codebooks, N] for each segment upstream splits TEXT into."""
        if self.model == S1:
            return self._generate_s1(text, transcript, codes, sampling)
        return self._generate_v15(text, transcript, codes, sampling)

    def prompt(self, text: str, transcript: str, codes: torch.Tensor) -> torch.Tensor | None:
        """The encoded prompt [codebooks + 1, T] that generate_long builds for TEXT in the
        voice of (TRANSCRIPT, CODES); ContextTooLong where it does not fit. None: fish-1.5
        splits TEXT into several segments, each prompted with the ones before (only
        generate_long itself speaks such a text)."""
        if self.model != S1:
            return self._prompt_v15(text, transcript, codes)
        from fish_speech.content_sequence import ContentSequence, TextPart, VQPart

        sequence = ContentSequence(modality="interleave")
        sequence.append(
            [TextPart(text=transcript), VQPart(codes=codes.to("cpu", torch.long))],
            add_end=True,
            speaker=0,
        )
        sequence.append([TextPart(text=text)], add_end=False, speaker=0)
        with _upstream_call():
            encoded, _, _ = sequence.encode_for_inference(
                self.module.tokenizer, num_codebooks=self.module.config.num_codebooks
            )
        limit = self.context - 2048  # generate_long's own limit
        if encoded.size(1) > limit:
            raise ContextTooLong(int(encoded.size(1)), limit)
        return encoded

    def _prompt_v15(self, text: str, transcript: str, codes: torch.Tensor) -> torch.Tensor | None:
        inference = _import("fish_speech_lib.fish_speech.models.text2semantic.inference", V15)
        segments = inference.split_text(text, V15_CHUNK_LENGTH)
        if len(segments) != 1:
            return None
        tokenizer = self.module.tokenizer
        books = int(self.module.config.num_codebooks)
        with _upstream_call():
            system = inference.Conversation(
                messages=[
                    inference.Message(
                        role="system",
                        parts=[inference.TextPart(text="Speak out the provided text.")],
                        cal_loss=False,
                    )
                ]
            ).encode_for_inference(tokenizer=tokenizer, num_codebooks=books)
            reference = inference.encode_tokens(
                tokenizer,
                string=transcript,
                device=self.device,
                prompt_tokens=codes.to(self.device, torch.int32),
                num_codebooks=books,
            )
            segment = inference.encode_tokens(
                tokenizer, string=segments[0], device=self.device, num_codebooks=books
            )
        encoded = torch.cat([system.to(self.device), reference, segment], dim=1)
        limit = self.context - 2  # a prefill's frame and one more must fit
        if encoded.size(1) > limit:
            raise ContextTooLong(int(encoded.size(1)), limit)
        return encoded

    def reference_prefix(self, transcript: str, codes: torch.Tensor) -> int:
        """How many leading prompt columns depend on the reference alone (not on the text):
        the common part of the prompts of two texts that differ from their first byte."""
        one, two = (self.prompt(text, transcript, codes) for text in ("a", "b"))
        if one is None or two is None:
            return 0
        same = (one[:, : two.shape[1]] == two[:, : one.shape[1]]).all(dim=0)
        differs = (~same).nonzero()
        return int(differs[0, 0]) if len(differs) else 0

    def _generate_s1(
        self, text: str, transcript: str, codes: torch.Tensor, sampling: SynthesisParams
    ) -> list[torch.Tensor]:
        from fish_speech.models.text2semantic.inference import generate_long

        # Upstream's own CLI seeds the global generators right before generate_long.
        torch.manual_seed(sampling.seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed(sampling.seed)
        responses = generate_long(
            device=self.device,
            prompt_tokens=[codes.to(torch.long)],
            **self._arguments(text, transcript, sampling),
        )
        return self._collect(responses)

    def _generate_v15(
        self, text: str, transcript: str, codes: torch.Tensor, sampling: SynthesisParams
    ) -> list[torch.Tensor]:
        from fish_speech_lib.fish_speech.models.text2semantic.inference import generate_long

        # fish-speech-lib samples from a request-local generator seeded by `seed=`; the
        # global torch seed has no effect on it. Prompt codes must be int32 on the device.
        responses = generate_long(
            prompt_tokens=[codes.to(self.device, torch.int32)],
            seed=sampling.seed,
            **self._arguments(text, transcript, sampling),
        )
        return self._collect(responses)

    def _arguments(self, text: str, transcript: str, sampling: SynthesisParams) -> dict[str, Any]:
        """The generate_long arguments both libraries take alike."""
        return {
            "model": self.module,
            "decode_one_token": self.decode_one_token,
            "text": text,
            "max_new_tokens": sampling.max_new_tokens,
            "top_p": sampling.top_p,
            "repetition_penalty": sampling.repetition_penalty,
            "temperature": sampling.temperature,
            "compile": False,
            "prompt_text": [transcript],
        }

    def _collect(self, responses: Any) -> list[torch.Tensor]:
        segments: list[torch.Tensor] = []
        try:
            with _upstream_call(), torch.inference_mode():
                for response in responses:
                    if response.action == "sample":
                        segments.append(response.codes.to("cpu", torch.long))
                    elif response.action == "next":
                        break
        except ValueError as e:
            # generate_long: "Prompt is too long: 4100 > 2048"
            message = str(e)
            if message.startswith("Prompt is too long"):
                numbers = [int(x) for x in message.replace(">", " ").split() if x.isdigit()]
                raise ContextTooLong(*numbers[-2:]) from None
            raise
        return segments


def load_semantic_model(
    model: str, directory: Path, device: torch.device, precision: torch.dtype
) -> SemanticModel:
    path = directory / "model.pth"
    if model == S1:
        inference = _silence_progress(_import("fish_speech.models.text2semantic.inference", model))
        with _upstream_call(), _load_errors(path):
            net, decode_one_token = inference.init_model(
                str(directory), device, precision, compile=False
            )
    else:
        inference = _silence_progress(
            _import("fish_speech_lib.fish_speech.models.text2semantic.inference", model)
        )
        with _upstream_call(), _load_errors(path):
            net, decode_one_token = inference.load_model(
                str(directory), device, precision, compile=False
            )
            # fish-speech-lib leaves the KV caches to its caller (its queue worker does this).
            with torch.device(device):
                net.setup_caches(
                    max_batch_size=1,
                    max_seq_len=net.config.max_seq_len,
                    dtype=next(net.parameters()).dtype,
                )
    return SemanticModel(model, net, decode_one_token, device)
