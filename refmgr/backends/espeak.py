"""eSpeak NG speech through PyPI ``espeakng-loader`` (library and voice data, no root).

Used for deterministic test and demo recordings, and by the draft engine. Each utterance
runs in its own short-lived process (see espeak_worker.py for why).
"""

from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refmgr.errors import BackendError

_WORKER = Path(__file__).with_name("espeak_worker.py")


@dataclass(frozen=True)
class Voice:
    name: str = "en-us"  # eSpeak voice, optionally with a variant: "en-us+m3"
    rate_wpm: int = 175  # 80..450
    pitch: int = 50  # 0..100, eSpeak's own scale
    pitch_range: int = 50  # 0..100


def library_version() -> str:
    from importlib.metadata import version

    return version("espeakng-loader")


def speak(text: str, voice: Voice = Voice()) -> tuple[npt.NDArray[np.int16], int]:
    """Synthesize ``text``; returns (mono int16 samples, sample rate). Deterministic."""
    try:
        import espeakng_loader
    except ImportError:
        raise BackendError(
            "eSpeak NG is not installed; install it with: pip install espeakng-loader"
        ) from None
    args = [
        sys.executable,
        "-I",
        str(_WORKER),
        espeakng_loader.get_library_path(),
        espeakng_loader.get_data_path(),
        voice.name,
        str(voice.rate_wpm),
        str(voice.pitch),
        str(voice.pitch_range),
    ]
    proc = subprocess.run(args, input=text.encode("utf-8"), capture_output=True, check=False)
    if proc.returncode != 0 or len(proc.stdout) < 4:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise BackendError(f"eSpeak NG failed: {detail[-1] if detail else proc.returncode}")
    (sample_rate,) = struct.unpack("<I", proc.stdout[:4])
    return np.frombuffer(proc.stdout[4:], dtype="<i2").astype(np.int16), sample_rate


def speak_float(text: str, sample_rate: int, voice: Voice = Voice()) -> npt.NDArray[np.float32]:
    """``speak`` resampled to ``sample_rate``, as float32 in [-1, 1]."""
    from refmgr.audio import resample

    pcm, rate = speak(text, voice)
    return resample(pcm.astype(np.float32) / 32768.0, rate, sample_rate)
