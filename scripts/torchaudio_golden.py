"""Record real torchaudio's outputs for the functions tests/stubs/torchaudio stands in for.

    pip download --no-deps torchaudio==2.11.0 -d build/torchaudio      # the PyPI wheel
    python scripts/torchaudio_golden.py build/torchaudio/torchaudio-2.11.0-*.whl

Runs torchaudio's own Python source from the wheel (functional.melscale_fbanks,
functional.resample, transforms.MelScale, transforms.Resample) on the torch installed here,
without its C extension: that extension is built for one torch version only, and none of
these functions uses it (the script replaces ``torchaudio._extension`` by an empty module,
so any call into it would fail). Inputs are fixed (a seeded generator) and stored with the
outputs in tests/golden/torchaudio.npz; tests/fish/test_torchaudio_stub.py compares the
stand-in against them. The wheel's name and sha256 go into tests/golden/torchaudio.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "golden"

# (name, n_freqs, f_min, f_max, n_mels, sample_rate, norm, mel_scale); the first is what
# fish-speech-lib's LogMelSpectrogram builds for the Fish Speech 1.5 codec on every encode.
FBANKS = [
    ("fbank_fish15", 1025, 0.0, 22050.0, 160, 44100, "slaney", "slaney"),
    ("fbank_htk", 257, 20.0, 7600.0, 40, 16000, None, "htk"),
    ("fbank_slaney_scale", 201, 0.0, 8000.0, 64, 16000, None, "slaney"),
]
# (name, orig_freq, new_freq): the rates recordings are resampled from to the codecs' 44.1 kHz.
RESAMPLES = [
    ("resample_48000_44100", 48000, 44100),
    ("resample_16000_44100", 16000, 44100),
    ("resample_22050_44100", 22050, 44100),
    ("resample_44100_8000", 44100, 8000),
]


def import_real_torchaudio(wheel: Path, into: Path) -> Any:
    with zipfile.ZipFile(wheel) as archive:
        members = [
            m for m in archive.namelist() if m.startswith("torchaudio/") and m.endswith(".py")
        ]
        archive.extractall(into, members)
    extension = types.ModuleType("torchaudio._extension")
    extension._IS_TORCHAUDIO_EXT_AVAILABLE = False  # type: ignore[attr-defined]

    def missing(name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda function=None, *args, **kwargs: function  # decorators only

    extension.__getattr__ = missing  # type: ignore[method-assign]
    sys.modules["torchaudio._extension"] = extension
    sys.path.insert(0, str(into))
    import torchaudio

    assert Path(torchaudio.__file__).is_relative_to(into), torchaudio.__file__
    return torchaudio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=Path, help="a torchaudio wheel from PyPI")
    args = parser.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        ta = import_real_torchaudio(args.wheel, Path(tmp))
        rng = np.random.default_rng(20260101)
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        for name, *fb_args in FBANKS:
            arrays[name] = ta.functional.melscale_fbanks(*fb_args).numpy()
        spec = rng.random((1, 201, 5)).astype(np.float32)
        arrays["melscale_input"] = spec
        melscale = ta.transforms.MelScale(n_mels=64, sample_rate=16000, n_stft=201)
        arrays["melscale_output"] = melscale(torch.from_numpy(spec)).numpy()
        wave = rng.standard_normal((2, 480)).astype(np.float32)
        arrays["resample_input"] = wave
        for name, orig, new in RESAMPLES:
            arrays[name] = ta.functional.resample(torch.from_numpy(wave), orig, new).numpy()
            module = ta.transforms.Resample(orig, new)
            arrays[f"{name}_transform"] = module(torch.from_numpy(wave)).numpy()
        version = ta.__version__
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "torchaudio.npz", **arrays)
    meta = {
        "made_by": "scripts/torchaudio_golden.py",
        "torchaudio_wheel": args.wheel.name,
        "torchaudio_wheel_sha256": hashlib.sha256(args.wheel.read_bytes()).hexdigest(),
        "torchaudio_version": version,
        "torch_version": torch.__version__,
        "functions": [
            "torchaudio.functional.melscale_fbanks",
            "torchaudio.functional.resample",
            "torchaudio.transforms.MelScale",
            "torchaudio.transforms.Resample",
        ],
        "fbanks": [list(f) for f in FBANKS],
        "resamples": [list(r) for r in RESAMPLES],
        "melscale": {"n_mels": 64, "sample_rate": 16000, "n_stft": 201},
    }
    (OUT / "torchaudio.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {OUT / 'torchaudio.npz'} from torchaudio {version} on torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
