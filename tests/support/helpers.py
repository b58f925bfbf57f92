"""Helpers for tests: real recordings, repository snapshots, git."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile

from refmgr.backends.espeak import Voice, speak_float

DEFAULT_TEXT = (
    "The quick brown fox jumps over the lazy dog while the band plays a slow waltz "
    "under the old bridge, and everyone on the river bank stops to listen."
)


class RecordingFactory(Protocol):
    def __call__(self, name: str, **kwargs: object) -> Path: ...


def make_recording(
    path: Path,
    *,
    text: str = DEFAULT_TEXT,
    seconds: float | None = None,
    sample_rate: int = 44100,
    channels: int = 1,
    voice: str = "en-us",
    subtype: str | None = None,
    cache: Path | None = None,
) -> Path:
    """A speech recording of ``text`` (looped or cut to ``seconds``), written to ``path``.

    With ``cache`` set, the same arguments reuse a file made earlier in the session.
    """
    key = hashlib.sha256(
        repr((text, seconds, sample_rate, channels, voice, subtype, path.suffix)).encode()
    ).hexdigest()[:16]
    cached = cache / f"{key}{path.suffix}" if cache else None
    path.parent.mkdir(parents=True, exist_ok=True)
    if cached is not None and cached.exists():
        shutil.copyfile(cached, path)
        return path
    audio = speak_float(text, sample_rate, Voice(voice))
    if seconds is not None:
        n = round(seconds * sample_rate)
        audio = np.resize(audio, n) if n > len(audio) else audio[:n]
    frames = np.repeat(audio[:, None], channels, axis=1)
    default = {".ogg": "VORBIS", ".mp3": "MPEG_LAYER_III"}.get(path.suffix, "PCM_16")
    soundfile.write(path, frames, sample_rate, subtype=subtype or default)
    if cached is not None:
        shutil.copyfile(path, cached)
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (but .git) with its sha256, plus `git status` output."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or path.is_dir():
            continue
        files[rel.as_posix()] = (
            "symlink:" + os.readlink(path)
            if path.is_symlink()
            else hashlib.sha256(path.read_bytes()).hexdigest()
        )
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    files["<git status>"] = status.stdout
    return files


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


def one_line_error(stderr: str, *needles: str) -> bool:
    """stderr is exactly one line and contains every needle."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return len(lines) == 1 and all(n in lines[0] for n in needles)


def names(paths: Sequence[Path]) -> list[str]:
    return sorted(p.name for p in paths)
