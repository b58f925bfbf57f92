"""Rendered lines on disk: 16-bit PCM WAV files that carry their own cache key.

Each output holds a RIFF ``LIST/INFO`` comment (``ICMT``) naming the cache key it was made
for, the take and seed when a retake (see takes.py) replaced the line's first take, and
for draft engines a warning that it is not a clone, and for a line split into chunks
(see chunks.py) each chunk's key, sha256 and length. The files therefore describe
themselves: a render killed at any moment, or a ``renders/`` folder restored from a CI
cache, is recognised line by line without trusting any other record, and the lock is
rebuilt from what is really there. Audio players ignore the chunk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import struct
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refmgr.backends.base import Synthesis
from refmgr.errors import BackendError

Take = tuple[int, int]  # (take number from 1, seed it was synthesized with)

KEY_COMMENT = re.compile(rb"refmgr render key=([0-9a-f]{64})")
TAKE_COMMENT = re.compile(rb"; take=([2-9]|[1-9][0-9]{1,3}) seed=([0-9]{1,10});")
CHUNKS_COMMENT = re.compile(rb"; chunks=([0-9a-f:,]+);")
CHUNK_ITEM = re.compile(r"([0-9a-f]{64}):([0-9a-f]{64}):([0-9]{1,12})")
MAX_CHUNKS = 10_000  # per line: more than any line the script reader accepts can make
SUFFIX = ".wav"


@dataclass(frozen=True)
class ChunkFacts:
    """One chunk of a split line's output: its cache key, the sha256 of its cached file
    (see chunks.ChunkStore), and its length in samples."""

    key: str
    sha256: str
    samples: int


@dataclass(frozen=True)
class ChunkedSynthesis(Synthesis):
    """A line joined from chunks (chunks.ChunkingEngine): its output file names them."""

    chunks: tuple[ChunkFacts, ...] = ()


@dataclass(frozen=True)
class OutputFacts:
    key: str  # the cache key the file was rendered for
    sha256: str
    bytes: int
    duration_s: float
    sample_rate: int
    # A retake (see takes.py): which take of the line the file holds, and the seed it was
    # made with instead of the line's own. The first take is 1, with the line's seed.
    take: int = 1
    take_seed: int | None = None
    chunks: tuple[ChunkFacts, ...] = ()  # a split line's chunks, in order; () for others


def encode_output(
    synthesis: Synthesis, *, key: str, engine_id: str, draft: bool, take: Take | None = None
) -> bytes:
    """The bytes of an output file: the audio as 16-bit PCM, then the INFO chunk.

    ``take``: (number, seed) of a retake; the first take's file does not mention it, so
    renders without retakes give the bytes they always gave."""
    audio = np.asarray(synthesis.audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise BackendError(f"engine '{engine_id}' returned no mono audio (shape {audio.shape})")
    if not np.isfinite(audio).all():
        raise BackendError(f"engine '{engine_id}' returned NaN or infinite samples")
    if synthesis.sample_rate <= 0:
        raise BackendError(f"engine '{engine_id}' returned sample rate {synthesis.sample_rate}")
    comment = f"refmgr render key={key}"
    if take is not None and take[0] > 1:
        comment += f"; take={take[0]} seed={take[1]}"
    chunks = synthesis.chunks if isinstance(synthesis, ChunkedSynthesis) else ()
    if chunks:
        # Only split lines say it: every other output keeps the bytes it always had.
        comment += "; chunks=" + ",".join(f"{c.key}:{c.sha256}:{c.samples}" for c in chunks)
    comment += f"; engine={engine_id}"
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


def pcm_of(data: bytes) -> tuple[npt.NDArray[np.float32], int]:
    """The samples of an output file (as ``facts_of`` accepted it) in [-1, 1], and its rate:
    what the quality scorers measure, exactly as it is on disk."""
    pos, rate, pcm = 12, 0, b""
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if chunk_id == b"fmt " and size >= 16:
            (rate,) = struct.unpack("<I", data[pos + 12 : pos + 16])
        elif chunk_id == b"data":
            pcm = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    return samples.astype(np.float32) / 32767.0, rate


def facts_of(data: bytes) -> OutputFacts | None:
    """What an output file's bytes say about it; None if they are not a whole refmgr output."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 != len(data):
        return None  # truncated or padded: never trust it
    pos, rate, block, frames, key, take, chunks = 12, 0, 0, -1, None, None, None
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
            take = TAKE_COMMENT.search(body)
            chunks = CHUNKS_COMMENT.search(body)
        pos += 8 + size + (size & 1)
    if key is None or rate <= 0 or frames < 0:
        return None
    parts = _chunk_facts(chunks.group(1).decode()) if chunks else ()
    if parts is None:
        return None
    return OutputFacts(
        key=key,
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        duration_s=round(frames / rate, 6),
        sample_rate=rate,
        take=int(take.group(1)) if take else 1,
        take_seed=int(take.group(2)) if take else None,
        chunks=parts,
    )


def _chunk_facts(text: str) -> tuple[ChunkFacts, ...] | None:
    """The chunks an output's comment lists; None if the list is malformed."""
    items = text.split(",")
    if len(items) > MAX_CHUNKS:
        return None
    found = [CHUNK_ITEM.fullmatch(item) for item in items]
    if not all(found):
        return None
    return tuple(ChunkFacts(m.group(1), m.group(2), int(m.group(3))) for m in found if m)


Stamp = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def stamp(path: Path) -> Stamp:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass
class OutputIndex:
    """What was read of each output before, with the stat data (size, mtime, ctime, inode)
    showing the file has not changed since: like git's index, it spares a render reading
    and hashing every output again. Local state in .refmgr/; any doubt means a re-read."""

    path: Path
    entries: dict[str, tuple[Stamp, OutputFacts]] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def load(cls, path: Path) -> OutputIndex:
        index = cls(path)
        try:
            data = json.loads(path.read_text("utf-8"))
            for name, (st, facts) in data["files"].items():
                chunks = tuple(ChunkFacts(**c) for c in facts.pop("chunks", []))
                index.entries[name] = (tuple(st), OutputFacts(**facts, chunks=chunks))
        except (OSError, ValueError, KeyError, TypeError):
            index.entries.clear()  # missing, partly written or old: start afresh
        return index

    def lookup(self, name: str, st: Stamp) -> OutputFacts | None:
        known = self.entries.get(name)
        return known[1] if known is not None and known[0] == st else None

    def record(self, name: str, st: Stamp, facts: OutputFacts) -> None:
        if self.entries.get(name) != (st, facts):
            self.entries[name] = (st, facts)
            self.changed = True

    def save(self, names: Collection[str]) -> None:
        """Keep the entries of ``names`` (the outputs there now) and write the index if it
        changed. No fsync: a torn index is only a cache miss."""
        for gone in set(self.entries) - set(names):
            del self.entries[gone]
            self.changed = True
        if not self.changed:
            return
        files = {n: [list(st), dataclasses.asdict(f)] for n, (st, f) in self.entries.items()}
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(exist_ok=True)
            self.path.write_text(json.dumps({"files": files}), "utf-8")
        self.changed = False


def read_outputs(directory: Path, index: OutputIndex | None = None) -> dict[str, OutputFacts]:
    """Every whole refmgr output in ``directory``, by file name."""
    found: dict[str, OutputFacts] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*" + SUFFIX)):
        try:
            st = stamp(path)
            facts = index.lookup(path.name, st) if index is not None else None
            if facts is None:
                facts = facts_of(path.read_bytes())
                if facts is not None and index is not None:
                    index.record(path.name, st, facts)
        except OSError:
            continue  # unreadable: treated as absent, so the line is rendered again
        if facts is not None:
            found[path.name] = facts
    return found
