"""The file formats a mix can be written in, chosen by the output's file name.

All go through libsndfile (soundfile's bundled build has FLAC, Ogg Vorbis and MP3), so no
encoder is needed beside it. WAV and FLAC keep 16-bit PCM, as the line outputs do.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from refmgr.errors import RefmgrError


@dataclass(frozen=True)
class AudioFormat:
    name: str  # what the mix record and --json call it
    container: str  # libsndfile's major format
    subtype: str
    rates: tuple[int, ...] | None = None  # sample rates the codec takes; None: any
    lossy: bool = False  # decoding gives other samples: peaks move (see render/mix.py)


# MPEG audio (layers 1-3, versions 1, 2 and 2.5) has nine sample rates.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

FORMATS: dict[str, AudioFormat] = {
    ".wav": AudioFormat("wav", "WAV", "PCM_16"),
    ".flac": AudioFormat("flac", "FLAC", "PCM_16"),
    ".ogg": AudioFormat("ogg-vorbis", "OGG", "VORBIS", lossy=True),
    ".mp3": AudioFormat("mp3", "MP3", "MPEG_LAYER_III", rates=MP3_RATES, lossy=True),
}


def format_for(path: Path) -> AudioFormat:
    """The format ``path``'s suffix names: ``-o episode.mp3`` writes MP3."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(sorted(FORMATS))
        raise RefmgrError(f"cannot tell the audio format from the name: use {known}", path)
    return found


def encode(samples: npt.NDArray[np.float32], rate: int, fmt: AudioFormat, path: Path) -> bytes:
    """``samples`` (mono, in [-1, 1]) as a file of ``fmt``."""
    import soundfile

    if fmt.rates is not None and rate not in fmt.rates:
        raise RefmgrError(
            f"{fmt.name} cannot hold {rate} Hz audio (it takes "
            f"{', '.join(str(r) for r in fmt.rates)}): write .wav or .flac",
            path,
        )
    buf = io.BytesIO()
    try:
        soundfile.write(
            buf, np.clip(samples, -1.0, 1.0), rate, format=fmt.container, subtype=fmt.subtype
        )
    except (soundfile.LibsndfileError, TypeError, ValueError) as e:
        raise RefmgrError(f"cannot encode {fmt.name}: {e}", path) from None
    return buf.getvalue()
