"""Tiny random-weight Fish Speech checkpoints in the real on-disk layouts, for tests and benchmarks.

Built with the libraries' own classes and save functions:
- fish-s1 (openaudio-s1-mini layout: config.json, model.pth, tokenizer.tiktoken,
  special_tokens.json, codec.pth): fish_speech's FishTokenizer + DualARTransformer saved with
  ``save_pretrained``; the codec composed by Hydra from the stock ``modded_dac_vq`` config
  with size overrides, instantiated, and saved as a state dict. The composed config is
  written as ``modded_dac_tiny.yaml`` into a config folder that the test-only Hydra plugin
  (stubs/hydra_plugins) adds to fish-speech's search path.
- fish-1.5 (fish-speech-1.5 layout: config.json, model.pth, tokenizer.tiktoken,
  special_tokens.json, firefly-gan-vq-fsq-8x1024-21hz-generator.pth): fish-speech-lib's
  classes; the firefly codec at its real size (fish-speech-lib's load_model always builds
  its one fixed architecture), randomly initialised.

Sizes keep what the code under test relies on: 10 (S1) / 8 (1.5) codebooks, their code
ranges, 44.1 kHz, 2048 samples per frame. Importing this module imports no torch.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

STUBS = Path(__file__).resolve().parent.parent / "stubs"
TINY_S1_CODEC_CONFIG = "modded_dac_tiny"
CONFIG_DIR_ENV = "REFMGR_TEST_FISH_CONFIG_DIR"
# The device and precision the fish tests run the models on: cpu/fp32 here, cuda with bf16
# or fp32 in scripts/gpu-check.sh. Written into the test repositories' [models.*] settings.
DEVICE = os.environ.get("REFMGR_TEST_DEVICE", "cpu")
PRECISION = os.environ.get("REFMGR_TEST_PRECISION", "fp32")

# The S1 tokenizer's special tokens without its semantic ones (fish_speech.tokenizer lists
# only 1024 of those; S1 has 4096).
S1_SPECIAL = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|pad|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|phoneme_start|>",
    "<|phoneme_end|>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    "<|text|>",
    "<|voice|>",
    "<|interleave|>",
    "<|audio_start|>",
    "<|audio_end|>",
    "<|audio|>",
]
S1_SEMANTIC = 4096

# Hydra overrides on the stock modded_dac_vq config. Every transformer dim stays >= 64 (the
# codec's attention uses dim // 64 heads). pre_module and post_module share one YAML anchor
# but are separate nodes: both are overridden. block_size caps the clip length (~47 s).
S1_CODEC_OVERRIDES = [
    "encoder_dim=4",
    "encoder_transformer_layers=[0,0,0,1]",
    "decoder_dim=64",
    "decoder_transformer_layers=[1,0,0,0]",
    "transformer_general_config.block_size=4096",
    "quantizer.input_dim=64",
    *[
        f"quantizer.{module}.{setting}"
        for module in ("pre_module", "post_module")
        for setting in (
            "input_dim=64",
            "config.dim=64",
            "config.n_head=1",
            "config.n_layer=1",
            "config.intermediate_size=128",
            "config.block_size=1024",
        )
    ],
]


def enable_stubs() -> None:
    """Make the torchaudio stand-in and the Hydra plugin importable in this process."""
    if str(STUBS) not in sys.path:
        sys.path.append(str(STUBS))


def subprocess_env(config_dir: Path) -> dict[str, str]:
    """Environment for a refmgr subprocess that runs the tiny checkpoints."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": os.pathsep.join(p for p in (path, str(STUBS)) if p),
        CONFIG_DIR_ENV: str(config_dir),
        "OMP_NUM_THREADS": "1",  # 2 threads measured slower on the 2-core test machine
    }


def _byte_tokenizer(path: Path) -> None:
    """tokenizer.tiktoken with the 256 single bytes: encodes any text."""
    path.write_text("".join(f"{base64.b64encode(bytes([i])).decode()} {i}\n" for i in range(256)))


# The text-to-semantic model's sizes: tiny for tests; "real" approximates openaudio-s1-mini
# (a Qwen3-0.6B-sized slow transformer, 4 fast layers, ~150k vocabulary, 8192 context) for
# throughput checks on a GPU with random weights. The codec stays tiny in both.
S1_SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(
        n_layer=2, n_head=2, n_local_heads=1, dim=64, head_dim=32, intermediate_size=128,
        max_seq_len=4096, n_fast_layer=1, fast_dim=64, fast_n_head=2, fast_n_local_heads=1,
        fast_head_dim=32, fast_intermediate_size=128, text_tokens=0,
    ),
    "real": dict(
        n_layer=28, n_head=16, n_local_heads=8, dim=1024, head_dim=128, intermediate_size=3072,
        max_seq_len=8192, n_fast_layer=4, fast_dim=1024, fast_n_head=16, fast_n_local_heads=8,
        fast_head_dim=64, fast_intermediate_size=3072, text_tokens=151_000,
    ),
}  # fmt: skip


def build_s1(out: Path, config_dir: Path, seed: int = 0, size: str = "tiny") -> None:
    import torch
    from fish_speech.models.text2semantic.llama import DualARModelArgs, DualARTransformer
    from fish_speech.tokenizer import FishTokenizer

    out.mkdir(parents=True, exist_ok=True)
    _byte_tokenizer(out / "tokenizer.tiktoken")
    sizes = dict(S1_SIZES[size])
    # Placeholder tokens give the real size's output layer its width.
    filler = [f"<|filler:{i}|>" for i in range(sizes.pop("text_tokens"))]
    # Semantic tokens last: upstream turns a sampled id into a code as id - first semantic id,
    # so the vocabulary must end at <|semantic:4095|>.
    special = S1_SPECIAL + filler + [f"<|semantic:{i}|>" for i in range(S1_SEMANTIC)]
    tokenizer = FishTokenizer(str(out / "tokenizer.tiktoken"), special)
    config = DualARModelArgs(
        vocab_size=tokenizer.semantic_end_id + 1,
        # max_seq_len: generate_long refuses prompts over max_seq_len - 2048
        codebook_size=4096,
        num_codebooks=10,
        attention_qk_norm=True,
        scale_codebook_embeddings=True,
        norm_eps=1e-6,
        rope_base=1e6,
        **sizes,
    )
    torch.manual_seed(seed)
    DualARTransformer(config, tokenizer=tokenizer).save_pretrained(str(out))
    _build_s1_codec(out, config_dir, seed)


def _build_s1_codec(out: Path, config_dir: Path, seed: int) -> None:
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from refmgr.backends.fish._adapter import codec_module

    # Imported through the adapter, which handles the libraries' clashing OmegaConf resolvers.
    stock = Path(codec_module("fish-s1").__file__).resolve().parents[2] / "configs"
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(stock)):
        config = compose(config_name="modded_dac_vq", overrides=S1_CODEC_OVERRIDES)
    GlobalHydra.instance().clear()
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / f"{TINY_S1_CODEC_CONFIG}.yaml").write_text(OmegaConf.to_yaml(config))
    torch.manual_seed(seed)
    torch.save(instantiate(config).state_dict(), out / "codec.pth")


def build_v15(out: Path, seed: int = 0) -> None:
    import torch

    from refmgr.backends.fish._adapter import codec_module

    codec_module("fish-1.5")  # first import of fish_speech_lib through the adapter (see above)
    from fish_speech_lib.config import FIREFLY_GAN_VQ_CONFIG
    from fish_speech_lib.fish_speech.models.text2semantic.llama import (
        DualARModelArgs,
        DualARTransformer,
    )
    from fish_speech_lib.fish_speech.tokenizer import FishTokenizer
    from hydra.utils import instantiate

    from refmgr.backends.registry import FIREFLY_GENERATOR

    out.mkdir(parents=True, exist_ok=True)
    _byte_tokenizer(out / "tokenizer.tiktoken")
    tokenizer = FishTokenizer(str(out / "tokenizer.tiktoken"))  # fixed specials, 1024 semantic
    # The firefly decoder accepts codes 0..999 only, and a random model samples the whole
    # codebook: codebook_size 1000 and a vocabulary that ends at <|semantic:999|>.
    dim = 64
    config = DualARModelArgs(
        vocab_size=tokenizer.semantic_begin_id + 1000,
        n_layer=2,
        n_head=2,
        n_local_heads=1,
        dim=dim,
        intermediate_size=2 * dim,
        max_seq_len=4096,
        codebook_size=1000,
        num_codebooks=8,
        n_fast_layer=1,
        fast_dim=dim,
        fast_n_head=2,
        fast_n_local_heads=1,
        fast_intermediate_size=2 * dim,
        norm_eps=1e-6,
        rope_base=1e6,
    )
    torch.manual_seed(seed)
    DualARTransformer(config, tokenizer=tokenizer).save_pretrained(str(out))
    torch.manual_seed(seed)
    codec = instantiate(FIREFLY_GAN_VQ_CONFIG)
    # Random init leaves the encoder's output near zero, and FSQ then maps every frame to one
    # code; a larger final LayerNorm gain spreads the codes over the range.
    with torch.no_grad():
        codec.backbone.norm.weight.fill_(10.0)
    torch.save(codec.state_dict(), out / FIREFLY_GENERATOR)
