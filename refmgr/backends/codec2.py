"""Codec2 3200 bit/s through PyPI ``pycodec2`` (which bundles libcodec2).

Layout: one 20 ms frame is 8 bytes (64 bits); tokens are ``(8, frames)`` uint8, byte k of
every frame in row k, so a 30 s recording is 12,000 bytes of codes.

Two traps of the library, handled here:
- an encoder keeps state from frame to frame, so every ``encode`` gets a fresh one: the
  codes of a recording never depend on what was encoded before it;
- the decoder draws from a random generator that is a static variable inside libcodec2,
  shared by the whole process and never reset. Decoding therefore runs in a short-lived
  subprocess (``codec2_worker.py``), where the generator starts from its initial state:
  the same codes always decode to the same samples.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.backends.base import CodecSpec, Codes, FloatAudio
from refmgr.errors import BackendError

MODE = 3200
_WORKER = Path(__file__).with_name("codec2_worker.py")


class Codec2Codec:
    def __init__(self, spec: CodecSpec) -> None:
        import pycodec2  # noqa: F401  (fail here, with the install hint, if it is missing)

        self.spec = spec

    def encode(self, samples: FloatAudio) -> Codes:
        import pycodec2

        hop = self.spec.hop
        frames = self.spec.frames_for(len(samples))
        pcm = np.zeros(frames * hop, dtype=np.int16)
        pcm[: len(samples)] = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
        encoder = pycodec2.Codec2(MODE)
        bytes_per_frame = encoder.bytes_per_frame()
        data = b"".join(encoder.encode(pcm[i * hop : (i + 1) * hop]) for i in range(frames))
        codes = np.frombuffer(data, dtype=np.uint8).reshape(frames, bytes_per_frame)
        return np.ascontiguousarray(codes.T)

    def decode(self, codes: Codes) -> FloatAudio:
        if codes.ndim != 2 or codes.shape[0] != self.spec.n_codebooks:
            raise BackendError(f"codec2 codes must have shape (8, frames), not {codes.shape}")
        payload = np.ascontiguousarray(codes.T, dtype=np.uint8).tobytes()
        proc = subprocess.run(
            [sys.executable, "-I", str(_WORKER), str(MODE)],
            input=payload,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            raise BackendError(
                f"codec2 decoder failed: {detail[-1] if detail else proc.returncode}"
            )
        pcm = np.frombuffer(proc.stdout, dtype="<i2")
        return (pcm.astype(np.float32) / 32768.0).astype(np.float32)

    def pins(self) -> dict[str, Any]:
        return {}
