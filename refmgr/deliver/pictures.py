"""A rendered line at a glance: its waveform over its spectrogram, as one small PNG.

Drawn with numpy and written with zlib (no plotting library: the review page is made on
the light path, without matplotlib's second of import). The picture is a 4-bit palette
PNG of WIDTH x HEIGHT pixels, a few kilobytes, so that a page of 2,000 lines stays a few
megabytes. Pictures depend on the audio alone: ``PictureCache`` keeps them by the
output's sha256 under the repository's state folder, and checks every file it reads back
(it is local state, but state on disk is input like any other).
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

PICTURE_VERSION = 1  # in the cache's folder name: a new drawing never reads an old one
WIDTH = 192
WAVE_HEIGHT = 28
SPECTRUM_HEIGHT = 36
HEIGHT = WAVE_HEIGHT + SPECTRUM_HEIGHT
N_FFT = 512
FLOOR_DB = 80.0  # the spectrogram shows the loudest 80 dB
MAX_PICTURE_BYTES = 32 * 1024  # far above what the drawing makes (about 2-4 KB)
MAX_CACHED = 20_000  # pictures kept; the oldest go first
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Samples = npt.NDArray[np.float32]

# 16 colours: 0 background, 1 the zero line, 2 the waveform, 3-15 the spectrogram's levels
# (dark blue to yellow, a perceptually ordered ramp made here, not taken from a library).
_RAMP = [
    (13, 8, 48),
    (36, 14, 87),
    (62, 18, 110),
    (88, 24, 119),
    (113, 31, 120),
    (139, 40, 115),
    (164, 51, 103),
    (188, 65, 86),
    (209, 83, 66),
    (226, 106, 45),
    (239, 133, 25),
    (247, 163, 15),
    (250, 199, 50),
]
PALETTE = [(255, 255, 255), (200, 204, 214), (40, 70, 140), *_RAMP]
_BACKGROUND, _AXIS, _WAVE, _FIRST_LEVEL = 0, 1, 2, 3
_LEVELS = len(_RAMP)


def draw(samples: Samples, rate: int) -> bytes:
    """The PNG of ``samples`` (mono, in [-1, 1]) at ``rate`` Hz."""
    audio = np.asarray(samples, dtype=np.float32).reshape(-1)
    pixels = np.vstack([_waveform(audio), _spectrogram(audio, rate)])
    return png(pixels)


def _waveform(audio: Samples) -> npt.NDArray[np.uint8]:
    image = np.full((WAVE_HEIGHT, WIDTH), _BACKGROUND, dtype=np.uint8)
    middle = WAVE_HEIGHT // 2
    image[middle, :] = _AXIS
    if audio.size == 0:
        return image
    # Each column's lowest and highest sample, from its stretch of the signal.
    edges = np.linspace(0, audio.size, WIDTH + 1).astype(np.int64)
    starts = np.minimum(edges[:-1], audio.size - 1)
    low = np.minimum.reduceat(audio, starts)
    high = np.maximum.reduceat(audio, starts)
    half = (WAVE_HEIGHT - 1) / 2
    top = np.clip(np.round(half - high * half), 0, WAVE_HEIGHT - 1).astype(np.int64)
    bottom = np.clip(np.round(half - low * half), 0, WAVE_HEIGHT - 1).astype(np.int64)
    rows = np.arange(WAVE_HEIGHT)[:, None]
    audible = (high - low) * half >= 0.5  # under half a pixel: silence, the axis shows
    image[(rows >= top[None, :]) & (rows <= bottom[None, :]) & audible[None, :]] = _WAVE
    return image


def _spectrogram(audio: Samples, rate: int) -> npt.NDArray[np.uint8]:
    """WIDTH frames of N_FFT samples spread over the line, on a log frequency scale from
    60 Hz to the Nyquist frequency (speech lives low: a linear scale wastes the picture)."""
    padded = np.zeros(max(audio.size, N_FFT), dtype=np.float32)
    padded[: audio.size] = audio
    starts = np.linspace(0, padded.size - N_FFT, WIDTH).astype(np.int64)
    frames = padded[starts[:, None] + np.arange(N_FFT)[None, :]] * np.hanning(N_FFT).astype(
        np.float32
    )
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (WIDTH, N_FFT // 2 + 1)
    nyquist = max(rate, 1) / 2
    bands = np.geomspace(min(60.0, nyquist / 2), nyquist, SPECTRUM_HEIGHT + 1)
    bins = np.clip(np.round(bands / nyquist * (N_FFT // 2)).astype(np.int64), 1, N_FFT // 2)
    bins = np.maximum(bins, np.arange(bins.size) + 1)  # one bin at least per band, low down
    bins = np.minimum(bins, N_FFT // 2)
    band_power = np.maximum.reduceat(power, bins[:-1], axis=1)  # (WIDTH, SPECTRUM_HEIGHT)
    db = 10 * np.log10(np.maximum(band_power, 1e-12))
    top = db.max() if db.size else 0.0
    level = np.clip((db - (top - FLOOR_DB)) / FLOOR_DB, 0.0, 1.0)
    image = _FIRST_LEVEL + np.round(level * (_LEVELS - 1)).astype(np.uint8)
    return np.ascontiguousarray(image.T[::-1])  # low frequencies at the bottom


def png(pixels: npt.NDArray[np.uint8]) -> bytes:
    """A 4-bit palette PNG of ``pixels`` (palette indices 0-15, even width)."""
    height, width = pixels.shape
    packed = (pixels[:, 0::2] << 4) | pixels[:, 1::2]
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), packed]).tobytes()  # filter 0
    header = struct.pack(">IIBBBBB", width, height, 4, 3, 0, 0, 0)
    palette = bytes(c for rgb in PALETTE for c in rgb)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"PLTE", palette)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def picture_problem(data: bytes) -> str | None:
    """Why ``data`` is not a picture ``draw`` makes (its size, its chunks and their CRCs,
    its header), or None. Cheap: nothing is decompressed."""
    if len(data) > MAX_PICTURE_BYTES:
        return "too large"
    if not data.startswith(PNG_SIGNATURE):
        return "not a PNG"
    pos, kinds = len(PNG_SIGNATURE), []
    while pos < len(data):
        if pos + 12 > len(data):
            return "truncated"
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + size]
        crc = data[pos + 8 + size : pos + 12 + size]
        if len(body) != size or len(crc) != 4:
            return "truncated"
        if struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF) != crc:
            return f"bad CRC in {kind!r}"
        if kind == b"IHDR" and body != struct.pack(">IIBBBBB", WIDTH, HEIGHT, 4, 3, 0, 0, 0):
            return "another size or colour type"
        kinds.append(kind)
        pos += 12 + size
    if kinds != [b"IHDR", b"PLTE", b"IDAT", b"IEND"]:
        return "unexpected chunks"
    return None


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` by renaming a finished temporary over it: a reader never sees half a
    picture. Not fsynced, unlike fsutil.atomic_write: a cache entry lost with a crash costs
    one drawing, while 200 fsyncs would cost more than drawing the pictures."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


class PictureCache:
    """Pictures by output sha256 in ``directory`` (a folder the caller made sure of:
    project.write_dir). A file that is not a regular file, too large or not a picture of
    this version is ignored and drawn again; at most MAX_CACHED are kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / f"v{PICTURE_VERSION}"
        self.hits = 0
        self.made = 0

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.directory / f"{sha256}.png"

    def get(self, sha256: str) -> bytes | None:
        path = self._path(sha256)
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_PICTURE_BYTES:
                return None
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                data = f.read(MAX_PICTURE_BYTES + 1)
        except OSError:
            return None
        if picture_problem(data) is not None:
            return None
        self.hits += 1
        return data

    def put(self, sha256: str, data: bytes) -> None:
        """Keep ``data``; a cache that cannot be written only costs the next page time."""
        self.made += 1
        with contextlib.suppress(OSError):
            if not self.directory.is_dir() or self.directory.is_symlink():
                self.directory.mkdir(exist_ok=True)
            if self.directory.is_symlink():
                return
            _replace(self._path(sha256), data)

    def prune(self) -> None:
        """Remove the least recently written pictures beyond MAX_CACHED."""
        with contextlib.suppress(OSError):
            entries = [e for e in os.scandir(self.directory) if e.name.endswith(".png")]
            if len(entries) <= MAX_CACHED:
                return
            entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
            for entry in entries[: len(entries) - MAX_CACHED]:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
