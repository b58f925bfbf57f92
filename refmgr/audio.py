"""Recordings: read any format libsndfile knows, check quality, mix to mono, resample."""

from __future__ import annotations

import hashlib
import io
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from refmgr.config import Limits
from refmgr.errors import AudioError
from refmgr.fsutil import open_regular, read_at_most

Samples = npt.NDArray[np.float32]
FULL_SCALE = 0.999


@dataclass(frozen=True)
class Recording:
    path: Path
    samples: Samples  # mono, float32 in [-1, 1]
    sample_rate: int
    channels: int
    sha256: str
    bytes: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


# The most a recording within limits.max_duration_s can need: 192 kHz stereo at 32 bits a
# sample, plus room for metadata (cover art, cue lists). Anything bigger is refused from its
# size alone, before a byte is read: a voice reference never needs more.
MAX_BYTES_PER_SECOND = 192_000 * 2 * 4
METADATA_ALLOWANCE = 16 << 20
# A compressed stream never takes more than 32-bit PCM of the same length: what a FLAC, Ogg
# or MP3 file holds beyond that (and the metadata allowance) is not audio.
MAX_BYTES_PER_SAMPLE = 4
MAX_WAV_CHUNKS = 4096  # real files have a handful; bounds the walk over a hostile one


def byte_ceiling(limits: Limits) -> int:
    """The largest recording file ``add`` reads under ``limits``."""
    return int(limits.max_duration_s * MAX_BYTES_PER_SECOND) + METADATA_ALLOWANCE


def _open(path: Path, limits: Limits) -> BinaryIO:
    return open_regular(
        path,
        byte_ceiling(limits),
        AudioError,
        "recording",
        hint=(
            f" ({limits.max_duration_s:g} s of audio, limits.max_duration_s in refmgr.toml, "
            "never needs more; convert it to 16-bit 48 kHz)"
        ),
    )


def check_recording_file(path: Path, limits: Limits) -> None:
    """Refuse a recording from its kind, size and header alone, without reading its samples:
    what ``add`` checks of every recording before loading a model."""
    with _open(path, limits) as f:
        _check_container(f, os.fstat(f.fileno()).st_size, path, limits)


def read_recording(path: Path, limits: Limits) -> Recording:
    """Read and check a recording. Raises AudioError naming the file and the problem."""
    import soundfile

    with _open(path, limits) as f:
        raw = read_at_most(f, path, byte_ceiling(limits), AudioError, "recording")
    # Every check runs on the very bytes that are decoded (the file may change meanwhile).
    _check_container(io.BytesIO(raw), len(raw), path, limits)
    try:
        data, sample_rate = soundfile.read(io.BytesIO(raw), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.SoundFileError) as e:
        raise AudioError(f"cannot decode audio ({_sndfile_reason(e)})", path) from None
    if data.shape[0] == 0:
        raise AudioError("contains no audio samples", path)
    if not np.isfinite(data).all():
        raise AudioError("contains NaN or infinite samples", path)
    duration = data.shape[0] / sample_rate
    if duration < limits.min_duration_s:
        raise AudioError(_too("short", duration, "at least", limits.min_duration_s, "min"), path)
    mono = data.mean(axis=1, dtype=np.float64).astype(np.float32)
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    level = 20 * math.log10(rms) if rms > 0 else -math.inf
    if rms == 0:
        raise AudioError("is silent (every sample is zero)", path)
    if level < limits.silence_dbfs:
        raise AudioError(
            f"is silent (RMS {level:.1f} dBFS, below limits.silence_dbfs = {limits.silence_dbfs:g})",
            path,
        )
    warnings = []
    clipped = float(np.mean(np.abs(data) >= FULL_SCALE))
    if clipped > limits.clipping_warn_ratio:
        warnings.append(f"{clipped:.2%} of samples are clipped; the voice may sound distorted")
    if duration < 10.0:
        warnings.append(f"only {duration:.1f} s long; voices clone best from 10-90 s")
    return Recording(
        path=path,
        samples=np.clip(mono, -1.0, 1.0),
        sample_rate=int(sample_rate),
        channels=int(data.shape[1]),
        sha256=hashlib.sha256(raw).hexdigest(),
        bytes=len(raw),
        warnings=tuple(warnings),
    )


def _check_container(f: BinaryIO, size: int, path: Path, limits: Limits) -> None:
    """The container's header against ``limits`` and against the file's size: a recording
    too long, or holding more bytes than its audio can take, is refused before decoding."""
    import soundfile

    if size == 0:
        raise AudioError("file is empty", path)
    head = f.read(12)
    is_wav = head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    if is_wav:
        _check_wav_chunks(f, size, path)
    f.seek(0)
    try:
        info = soundfile.info(f)
    except (RuntimeError, soundfile.SoundFileError) as e:
        raise AudioError(f"not a readable audio file ({_sndfile_reason(e)})", path) from None
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise AudioError("contains no audio samples", path)
    duration = info.frames / info.samplerate
    if duration > limits.max_duration_s:
        raise AudioError(_too("long", duration, "at most", limits.max_duration_s, "max"), path)
    if not is_wav:  # a WAV's chunks were checked exactly above
        room = info.frames * info.channels * MAX_BYTES_PER_SAMPLE + METADATA_ALLOWANCE
        if size > room:
            raise AudioError(
                f"file is {size} bytes, more than {duration:.2f} s of audio can take "
                f"({room}): trailing data after the audio stream",
                path,
            )


def _too(what: str, duration: float, bound: str, limit: float, key: str) -> str:
    return (
        f"too {what}: {duration:.2f} s, must be {bound} {limit:g} s "
        f"(limits.{key}_duration_s in refmgr.toml)"
    )


def _sndfile_reason(error: Exception) -> str:
    text = str(error).strip()
    # libsndfile says "Error opening <io.BytesIO ...>: Format not recognised." Keep the reason.
    reason = text.rsplit(": ", 1)[-1].rstrip(".") if ": " in text else text
    return reason[:1].lower() + reason[1:] if reason else "unknown error"


def _check_wav_chunks(f: BinaryIO, size: int, path: Path) -> None:
    """libsndfile quietly reads what is there of a truncated WAV, and ignores what follows
    its chunks: refuse both. Reads the chunk headers only (seeking over their bodies)."""
    f.seek(4)
    (riff_size,) = struct.unpack("<I", f.read(4))
    # 0 and 0xFFFFFFFF mark a size left unknown by a streaming writer.
    if riff_size not in (0, 0xFFFFFFFF) and size > 8 + riff_size + (riff_size & 1):
        raise AudioError(
            f"{size - 8 - riff_size} bytes of trailing data after the WAV's RIFF chunk "
            f"(which declares {8 + riff_size} bytes)",
            path,
        )
    pos, seen_data = 12, False
    for _ in range(MAX_WAV_CHUNKS):
        if size - pos < 8:
            if size - pos > 1:  # one pad byte may end a file
                raise AudioError(
                    f"{size - pos} bytes of trailing data after the WAV's chunks", path
                )
            break
        f.seek(pos)
        head = f.read(8)
        chunk_id = head[:4]
        (chunk_size,) = struct.unpack("<I", head[4:8])
        body = pos + 8
        if not all(32 <= c < 127 for c in chunk_id):
            what = "trailing data after the WAV's chunks" if seen_data else "corrupt WAV"
            raise AudioError(f"{what}: no chunk id at byte {pos}", path)
        if chunk_id == b"data" and not seen_data:
            seen_data = True
            if chunk_size in (0, 0xFFFFFFFF):
                return  # the samples run to the end of the file
            if body + chunk_size > size:
                raise AudioError(
                    f"truncated WAV: data chunk declares {chunk_size} bytes, "
                    f"file holds {size - body}",
                    path,
                )
        elif body + chunk_size > size:
            raise AudioError(
                f"corrupt WAV: chunk '{_chunk_name(chunk_id)}' runs past the end", path
            )
        pos = body + chunk_size + (chunk_size & 1)
    else:
        raise AudioError(f"corrupt WAV: more than {MAX_WAV_CHUNKS} chunks", path)
    if not seen_data:
        raise AudioError("corrupt WAV: no data chunk", path)


def _chunk_name(chunk_id: bytes) -> str:
    return chunk_id.decode("latin-1").encode("unicode_escape").decode("ascii")


def resample(samples: Samples, rate_in: int, rate_out: int) -> Samples:
    if rate_in == rate_out:
        return samples
    import soxr

    out = soxr.resample(samples, rate_in, rate_out, quality="HQ")
    return np.asarray(out, dtype=np.float32)


def wav_bytes(samples: Samples, sample_rate: int) -> bytes:
    """16-bit PCM WAV of mono float samples."""
    import soundfile

    buf = io.BytesIO()
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    soundfile.write(buf, pcm, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
