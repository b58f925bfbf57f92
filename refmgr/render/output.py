"""Rendered lines on disk: 16-bit PCM WAV files that carry their own cache key.

Each output holds a RIFF ``LIST/INFO`` comment (``ICMT``) naming the cache key it was made
for, and for draft engines a warning that it is not a clone. The files therefore describe
themselves: a render killed at any moment, or a ``renders/`` folder restored from a CI
cache, is recognised line by line without trusting any other record, and the lock is
rebuilt from what is really there. Audio players ignore the chunk.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refmgr.backends.base import Synthesis
from refmgr.errors import BackendError

KEY_COMMENT = re.compile(rb"refmgr render key=([0-9a-f]{64})")
SUFFIX = ".wav"


@dataclass(frozen=True)
class OutputFacts:
    key: str  # the cache key the file was rendered for
    sha256: str
    bytes: int
    duration_s: float
    sample_rate: int


def encode_output(synthesis: Synthesis, *, key: str, engine_id: str, draft: bool) -> bytes:
    """The bytes of an output file: the audio as 16-bit PCM, then the INFO chunk."""
    audio = np.asarray(synthesis.audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise BackendError(f"engine '{engine_id}' returned no mono audio (shape {audio.shape})")
    if not np.isfinite(audio).all():
        raise BackendError(f"engine '{engine_id}' returned NaN or infinite samples")
    if synthesis.sample_rate <= 0:
        raise BackendError(f"engine '{engine_id}' returned sample rate {synthesis.sample_rate}")
    comment = f"refmgr render key={key}; engine={engine_id}"
    if draft:
        comment += "; DRAFT: a scratch voice for timing, not a clone of the reference"
    return _wav(audio, synthesis.sample_rate, comment.encode("ascii"))


def _wav(audio: npt.NDArray[np.float32], rate: int, comment: bytes) -> bytes:
    # Written here, byte by byte, rather than by libsndfile: an output's sha256 must not
    # change with the version of an audio library (and the render stays free of it).
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)  # PCM, mono, 16-bit
    text = comment + b"\0" * (2 - len(comment) % 2)  # NUL-terminated, word-aligned
    info = b"INFO" + b"ICMT" + struct.pack("<I", len(text)) + text
    chunks = [(b"fmt ", fmt), (b"data", pcm), (b"LIST", info)]
    body = b"WAVE" + b"".join(
        cid + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2) for cid, data in chunks
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def facts_of(data: bytes) -> OutputFacts | None:
    """What an output file's bytes say about it; None if they are not a whole refmgr output."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 != len(data):
        return None  # truncated or padded: never trust it
    pos, rate, block, frames, key = 12, 0, 0, -1, None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            return None
        if chunk_id == b"fmt " and size >= 16:
            _, _, rate, _, block = struct.unpack("<HHIIH", body[:14])
        elif chunk_id == b"data" and block:
            frames = size // block
        elif chunk_id == b"LIST" and body[:4] == b"INFO":
            found = KEY_COMMENT.search(body)
            key = found.group(1).decode() if found else None
        pos += 8 + size + (size & 1)
    if key is None or rate <= 0 or frames < 0:
        return None
    return OutputFacts(
        key=key,
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        duration_s=round(frames / rate, 6),
        sample_rate=rate,
    )


def read_outputs(directory: Path) -> dict[str, OutputFacts]:
    """Every whole refmgr output in ``directory``, by file name."""
    found: dict[str, OutputFacts] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*" + SUFFIX)):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # unreadable: treated as absent, so the line is rendered again
        facts = facts_of(data)
        if facts is not None:
            found[path.name] = facts
    return found
