"""Recognizing recordings, which stay out of the repository (only their tokens go in).

By extension, and by the first bytes of the file so that a renamed recording is caught
too. Only signatures that are specific to audio are used: an MP3 without an ID3 tag has
no reliable signature and is known by its extension alone.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

EXTENSIONS = frozenset(
    {
        ".wav",
        ".wave",
        ".flac",
        ".mp3",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".m4b",
        ".aac",
        ".aif",
        ".aiff",
        ".aifc",
        ".wma",
        ".caf",
        ".au",
        ".snd",
        ".w64",
        ".rf64",
        ".amr",
        ".ape",
        ".wv",
        ".mka",
        ".alac",
        ".pcm",
        ".raw",
    }
)
HEAD_BYTES = 12  # enough for every signature below


def sniff(head: bytes) -> str | None:
    """The audio format the first bytes of a file announce, or None."""
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:3] == b"ID3":
        return "MP3"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if head[4:8] == b"ftyp" and head[8:12] in (b"M4A ", b"M4B "):
        return "M4A"
    if head[:4] in (b"caff", b".snd", b"wvpk", b"MAC "):
        return {b"caff": "CAF", b".snd": "AU", b"wvpk": "WavPack", b"MAC ": "APE"}[head[:4]]
    return None


def recording_kind(path: str, head: bytes) -> str | None:
    """Why ``path`` looks like a recording ('WAV data', '.mp3 file'), or None."""
    found = sniff(head)
    if found:
        return f"{found} audio"
    dot = path.rfind(".")
    ext = path[dot:].lower() if dot > path.rfind("/") else ""
    if ext in EXTENSIONS:
        return f"{ext} file"
    return None


def allowed(path: str, patterns: Sequence[str]) -> bool:
    """Whether ``path`` (relative to the voice repository's root) matches an allowed glob."""
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)
