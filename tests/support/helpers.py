"""Helpers for tests: real recordings, the CLI as a subprocess, repository snapshots."""

from __future__ import annotations

import hashlib
import os
import pty
import shutil
import subprocess
import sys
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


def run_cli(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m refmgr ARGS`` as a user would; returns the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "refmgr", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )


def top_level_imports(*args: str) -> set[str]:
    """The top-level packages ``python -m refmgr ARGS`` imports (via -X importtime)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "refmgr", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}


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


def run_on_terminal(root: Path, *args: str) -> tuple[int, str, str]:
    """Run refmgr with stderr on a pseudo-terminal (progress is drawn there only);
    returns (exit status, what it drew, stdout)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "refmgr", *args], cwd=root, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(), drawn.decode(errors="replace"), out
