"""Regenerate (or check) this repository's example voice, refs/alpha.npy + manifests/alpha.json.

    python scripts/make_alpha.py           # rewrite the pair from scratch
    python scripts/make_alpha.py --check   # exit 1 unless the committed pair is what this makes

The recording is eSpeak NG reading examples/alpha.txt, so anyone can rebuild the pair
byte for byte with the pinned package versions (constraints.txt).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from refmgr.backends.espeak import Voice, speak_float
from refmgr.commands.add import add_references
from refmgr.project import open_project

ROOT = Path(__file__).resolve().parent.parent
TEXT = ROOT / "examples" / "alpha.txt"
VOICE = Voice("en-us", rate_wpm=150)
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z, the manifest's creation time
FILES = ("refs/alpha.npy", "manifests/alpha.json")


def record(path: Path) -> None:
    audio = speak_float(" ".join(TEXT.read_text("utf-8").split()), 44100, VOICE)
    soundfile.write(path, np.stack([audio, audio], axis=1), 44100, subtype="PCM_16")


def build(repo: Path, scratch: Path) -> None:
    wav = scratch / "alpha.wav"
    record(wav)
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    # No quality section: its measures depend on the scorers' versions, and the example
    # voice must come out byte for byte the same with or without refmgr[qa].
    add_references(
        open_project(repo), [wav], text_file=TEXT, language="en", force=True, quality=False
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        if not args.check:
            build(ROOT, scratch)
            print("wrote " + ", ".join(FILES))
            return 0
        repo = scratch / "repo"
        (repo / "refs").mkdir(parents=True)
        (repo / "manifests").mkdir()
        shutil.copy(ROOT / "refmgr.toml", repo)
        build(repo, scratch)
        stale = [f for f in FILES if (repo / f).read_bytes() != (ROOT / f).read_bytes()]
    if stale:
        print(
            f"{', '.join(stale)}: not what scripts/make_alpha.py makes; "
            "regenerate with: python scripts/make_alpha.py",
            file=sys.stderr,
        )
        return 1
    print("alpha is intact: " + ", ".join(FILES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
