"""refmgr textconv: a token file as stable, readable text, for ``git diff`` and ``git log -p``.

git hands a textconv program a temporary copy of old versions, so the summary depends on
the file's bytes alone: the codec is inferred from the registry (codebook count, dtype,
code ranges), never looked up by file name. One line per second of codes (a short hash)
makes a diff show *where* in the recording the tokens changed.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.backends.base import CodecSpec
from refmgr.backends.registry import CODECS, codec_spec
from refmgr.errors import TokenFileError
from refmgr.fsutil import read_regular, regular_file_problem
from refmgr.tokens import DESCRS, read_header

HASHES_PER_LINE = 10
UNKNOWN_CHUNK = 50  # frames per line when the codec, hence the frame rate, is unknown


def read_token_bytes(path: Path, max_bytes: int) -> bytes:
    return read_regular(path, max_bytes, TokenFileError, "token file")


def summarize(data: bytes, path: Path, *, codec_id: str | None = None) -> list[str]:
    """The summary's lines; raises TokenFileError when the bytes are not a sound token file."""
    header = read_header(io.BytesIO(data), path)
    described = header.data_offset + header.data_bytes
    if len(data) != described:
        raise TokenFileError(
            f"file is {len(data)} bytes but its header describes {described} (truncated or padded)",
            path,
        )
    codes = np.frombuffer(
        data, dtype=np.dtype(DESCRS[header.dtype]), offset=header.data_offset
    ).reshape(header.shape)
    lines = ["refmgr token file"]
    spec, how = _codec(codes, header.dtype, codec_id)
    lines.append(f"codec     {spec.id if spec else 'unknown'} ({how})")
    lines.append(f"shape     {list(header.shape)} {header.dtype}, {len(data)} bytes")
    if codes.ndim != 2:
        lines.append(f"sha256    {hashlib.sha256(data).hexdigest()}")
        return lines
    frames = codes.shape[1]
    if spec is not None:
        lines.append(
            f"duration  {frames / spec.frame_rate:.2f} s ({frames} frames at "
            f"{spec.frame_rate:g} frames/s)"
        )
    lines.append(f"sha256    {hashlib.sha256(data).hexdigest()}")
    lines.append("codebooks (distinct codes, range, most used code and its share of frames):")
    for book, row in enumerate(codes):
        if frames == 0:
            lines.append(f"  {book:>2}  empty")
            continue
        values, counts = np.unique(row, return_counts=True)
        top = int(np.argmax(counts))
        lines.append(
            f"  {book:>2}  {len(values):>5} distinct  {int(values[0])}..{int(values[-1])}  "
            f"most used {int(values[top])} ({100 * counts[top] / frames:.1f}%)"
        )
    lines += _segments(codes, spec)
    return lines


def _codec(
    codes: np.ndarray[Any, Any], dtype: str, codec_id: str | None
) -> tuple[CodecSpec | None, str]:
    if codes.ndim != 2:
        return None, "not a (codebooks, frames) array"
    if codec_id is not None:
        given = codec_spec(codec_id)
        if not _fits(given, codes, dtype):
            # No duration then: another codec's frame rate would give a wrong one.
            return None, (
                f"given as {codec_id}, but {codec_id} makes {given.n_codebooks} codebooks of "
                f"{given.storage_dtype} codes within its ranges, not these"
            )
        return given, "given"
    fits = [spec for _, spec in sorted(CODECS.items()) if _fits(spec, codes, dtype)]
    if not fits:
        return None, f"no registered codec makes {codes.shape[0]} codebooks of {dtype} codes"
    if len(fits) > 1:
        return fits[0], "inferred, also fits " + ", ".join(s.id for s in fits[1:])
    return fits[0], "inferred from codebooks, dtype and code ranges"


def _fits(spec: CodecSpec, codes: np.ndarray[Any, Any], dtype: str) -> bool:
    return (
        spec.n_codebooks == codes.shape[0]
        and spec.storage_dtype == dtype
        and _within(codes, spec.code_ranges)
    )


def _within(codes: np.ndarray[Any, Any], ranges: tuple[tuple[int, int], ...]) -> bool:
    if codes.shape[1] == 0:
        return True
    lows, highs = codes.min(axis=1), codes.max(axis=1)
    return all(
        low <= lo and hi <= high for (low, high), lo, hi in zip(ranges, lows, highs, strict=True)
    )


def _segments(codes: np.ndarray[Any, Any], spec: CodecSpec | None) -> list[str]:
    frames = codes.shape[1]
    if spec is not None:
        chunk, unit = max(1, round(spec.frame_rate)), "s"
        title = "seconds (first 8 hex digits of the sha256 of each second's codes):"
    else:
        chunk, unit = UNKNOWN_CHUNK, "frames"
        title = f"frames (first 8 hex digits of the sha256 of each {chunk} frames' codes):"
    hashes = [
        hashlib.sha256(np.ascontiguousarray(codes[:, i : i + chunk]).tobytes()).hexdigest()[:8]
        for i in range(0, frames, chunk)
    ]
    lines = [title]
    step = HASHES_PER_LINE
    for first in range(0, len(hashes), step):
        start = first if unit == "s" else first * chunk
        label = f"{start:>5} {unit}"
        lines.append(f"  {label}  " + " ".join(hashes[first : first + step]))
    if not hashes:
        lines.append("  (no frames)")
    return lines


def textconv(path: Path, *, max_bytes: int, codec_id: str | None = None) -> str:
    return "\n".join(summarize(read_token_bytes(path, max_bytes), path, codec_id=codec_id)) + "\n"


def _fingerprint(path: Path) -> tuple[str, int]:
    """sha256 and size of a file that is not a sound token file: hashed as a stream (memory
    stays flat); only a regular file is opened, never a FIFO or device that would not end."""
    try:
        if regular_file_problem(os.stat(path).st_mode) is None:
            with open(path, "rb") as f:
                if regular_file_problem(os.fstat(f.fileno()).st_mode) is None:
                    return hashlib.file_digest(f, "sha256").hexdigest(), f.tell()
    except OSError:
        pass
    return "unknown", 0


def textconv_for_git(path: Path, *, max_bytes: int) -> str:
    """Never fails: a file that is not a sound token file is described as such, so that
    ``git diff`` and ``git log -p`` keep working across a bad commit."""
    try:
        return textconv(path, max_bytes=max_bytes)
    except TokenFileError as e:
        digest, size = _fingerprint(path)
        return (
            f"refmgr token file: INVALID: {e.message}\nsize      {size} bytes\nsha256    {digest}\n"
        )
