"""Torch device and precision for the Fish Speech models, and out-of-memory detection."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from refmgr.errors import BackendError

PRECISIONS = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def resolve_device(requested: str) -> torch.device:
    """``auto``: cuda, then mps, then cpu. An explicit device that is not there is an error."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda":
        if not torch.cuda.is_available():
            build = (
                "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
            )
            raise BackendError(
                f"CUDA was asked for but is not available (torch {torch.__version__} is "
                f"{build}, and sees no CUDA device); use --device cpu, or install a CUDA build "
                "of torch on a machine with an NVIDIA GPU"
            )
        return torch.device("cuda")
    if requested == "mps":
        if not _mps_available():
            raise BackendError(
                "MPS (Apple GPU) was asked for but is not available on this machine; "
                "use --device cpu"
            )
        return torch.device("mps")
    if requested == "cpu":
        return torch.device("cpu")
    raise BackendError(f"unknown device '{requested}' (use auto, cpu, cuda or mps)")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_precision(requested: str, device: torch.device) -> tuple[str, torch.dtype]:
    """``auto``: bf16 on CUDA (what upstream runs), fp32 elsewhere (CPU bf16 is slow)."""
    name = requested
    if requested == "auto":
        name = "bf16" if device.type == "cuda" else "fp32"
    if name not in PRECISIONS:
        raise BackendError(f"unknown precision '{requested}' (use auto, bf16, fp16 or fp32)")
    return name, PRECISIONS[name]


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    text = str(error)
    # CPU: "DefaultCPUAllocator: can't allocate memory"; MPS: "MPS backend out of memory".
    return isinstance(error, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


def free_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


MAX_BATCH_ROWS = 32  # past this, a DualAR decode step is compute-bound on any GPU we know
CONFIG_LIMIT = 1 << 20  # a checkpoint's config.json is a few hundred bytes


def batch_rows_for_memory(device: torch.device, directory: Path, dtype: torch.dtype) -> int:
    """Rows per fish-s1 batch that the GPU's memory holds: the weights (model.pth's size),
    a margin for activations, then per row the KV caches of the whole context, twice
    (the attention's repeated heads). Read from config.json and the device's total memory,
    not its free memory, so one GPU model always gives the same plan (it is in the pins).
    A power of two, 1 to MAX_BATCH_ROWS."""
    config_path = directory / "config.json"
    try:
        if config_path.stat().st_size > CONFIG_LIMIT:
            raise BackendError("config.json is too large to be a model config", config_path)
        config = json.loads(config_path.read_text())
        layers, heads = int(config["n_layer"]), int(config["n_head"])
        local = int(config.get("n_local_heads", -1))
        local = heads if local == -1 else local
        head_dim = int(config.get("head_dim") or int(config["dim"]) // heads)
        context = int(config["max_seq_len"])
        weights = (directory / "model.pth").stat().st_size
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BackendError(f"cannot read the model's size: {e}", config_path) from None
    element: int = dtype.itemsize
    row = 2 * 2 * layers * local * head_dim * context * element
    total = int(torch.cuda.get_device_properties(device).total_memory)
    room = int(total * 0.9) - weights - (4 << 30)
    rows: int = max(1, min(MAX_BATCH_ROWS, room // max(row, 1)))
    return 1 << (rows.bit_length() - 1)
