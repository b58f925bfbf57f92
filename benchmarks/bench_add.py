"""refmgr add: storage ratio, and one call for many clips vs one call per clip.

    python benchmarks/bench_add.py [--clips 20] [--seconds 30]

Prints (1) the size of a 30 s 44.1 kHz 16-bit stereo WAV against its token file, and
(2) the wall time of adding N clips in one `refmgr add` call against N separate calls,
both measured in this run on this machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from refmgr.backends.espeak import Voice, speak_float

TEXT = (
    "Every evening I climb the hundred and twelve steps to the lamp room, wind the old "
    "clockwork, and watch the beam sweep across the water."
)


def make_clip(path: Path, seconds: float, variant: int) -> None:
    voice = Voice("en-us", rate_wpm=150 + 5 * (variant % 8), pitch=40 + variant % 20)
    audio = np.resize(speak_float(TEXT, 44100, voice), int(seconds * 44100))
    soundfile.write(path, np.stack([audio, audio], axis=1), 44100, subtype="PCM_16")
    path.with_suffix(".lab").write_text(TEXT)


def refmgr(*args: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "refmgr", *args], cwd=cwd, check=True, capture_output=True
    )


def fresh_repo(base: Path, name: str) -> Path:
    root = base / name
    refmgr("init", str(root), cwd=base)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        clips = []
        for i in range(args.clips):
            clip = base / f"clip{i:02d}.wav"
            make_clip(clip, args.seconds, i)
            clips.append(clip)

        one = fresh_repo(base, "one-call")
        started = time.perf_counter()
        refmgr("add", *map(str, clips), cwd=one)
        batched = time.perf_counter() - started

        many = fresh_repo(base, "per-clip")
        started = time.perf_counter()
        for clip in clips:
            refmgr("add", str(clip), cwd=many)
        separate = time.perf_counter() - started

        wav_bytes = clips[0].stat().st_size
        npy_bytes = (one / "refs" / "clip00.npy").stat().st_size
    print(
        f"storage: {args.seconds:g} s 44.1 kHz 16-bit stereo WAV {wav_bytes} bytes -> "
        f"token file {npy_bytes} bytes (ratio {npy_bytes / wav_bytes:.5f}, {wav_bytes / npy_bytes:.0f}x smaller)"
    )
    print(
        f"add {args.clips} clips: one call {batched:.2f} s, {args.clips} separate calls "
        f"{separate:.2f} s (one call takes {batched / separate:.2f}x the time, {separate / batched:.2f}x faster)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
