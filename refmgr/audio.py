"""Recordings: read any format libsndfile knows, check quality, mix to mono, resample."""

from __future__ import annotations

import hashlib
import io
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refmgr.config import Limits
from refmgr.errors import AudioError

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


def read_recording(path: Path, limits: Limits) -> Recording:
    """Read and check a recording. Raises AudioError naming the file and the problem."""
    import soundfile

    if not path.exists():
        raise AudioError("no such file", path)
    if path.is_dir():
        raise AudioError("is a directory, not a recording", path)
    _refuse_long_before_reading(path, limits)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise AudioError(f"cannot read: {e.strerror}", path) from None
    if not raw:
        raise AudioError("file is empty", path)
    if raw[:4] == b"RIFF" and raw[8:12] == b"WAVE":
        _check_wav_chunks(raw, path)
    try:
        info = soundfile.info(io.BytesIO(raw))
    except (RuntimeError, soundfile.SoundFileError) as e:
        raise AudioError(f"not a readable audio file ({_sndfile_reason(e)})", path) from None
    if info.frames == 0 or info.samplerate <= 0:
        raise AudioError("contains no audio samples", path)
    duration = info.frames / info.samplerate
    if duration > limits.max_duration_s:
        raise AudioError(_too("long", duration, "at most", limits.max_duration_s, "max"), path)
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


def _refuse_long_before_reading(path: Path, limits: Limits) -> None:
    """A recording over the limit is refused from its header, before gigabytes are read."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.SoundFileError, OSError):
        return  # reported with the reason once the bytes are read
    if info.samplerate > 0 and info.frames / info.samplerate > limits.max_duration_s:
        duration = info.frames / info.samplerate
        raise AudioError(_too("long", duration, "at most", limits.max_duration_s, "max"), path)


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


def _check_wav_chunks(raw: bytes, path: Path) -> None:
    """libsndfile quietly reads what is there of a truncated WAV; refuse it instead."""
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id = raw[pos : pos + 4]
        (size,) = struct.unpack("<I", raw[pos + 4 : pos + 8])
        body = pos + 8
        if chunk_id == b"data":
            # 0 and 0xFFFFFFFF mark a size left unknown by a streaming writer.
            if size not in (0, 0xFFFFFFFF) and body + size > len(raw):
                raise AudioError(
                    f"truncated WAV: data chunk declares {size} bytes, file holds {len(raw) - body}",
                    path,
                )
            return
        if body + size > len(raw):
            raise AudioError(
                f"corrupt WAV: chunk '{_chunk_name(chunk_id)}' runs past the end", path
            )
        pos = body + size + (size & 1)
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
