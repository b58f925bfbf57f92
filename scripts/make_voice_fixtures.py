"""Regenerate tests/fixtures/voices/: short clips of four flite voices that really differ.

The draft voices (eSpeak NG) all sound alike to a speaker encoder, so a speaker gate cannot
be tested with them. Debian's flite ships four CMU ARCTIC voices (slt, rms, awb, kal) that a
speaker encoder separates well. Each voice reads two Harvard sentences (public domain), so
same-voice pairs (different words) and different-voice pairs can both be measured.

Needs the flite program (Debian: apt-get install -y flite). Writes 16 kHz mono 16-bit FLAC
plus a .lab transcript beside each clip, and copies flite's licence text. The tests read the
committed files and never need flite.

    python scripts/make_voice_fixtures.py [--check]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "voices"
VOICES = ("slt", "rms", "awb", "kal")
SAMPLE_RATE = 16000
# Harvard sentences (IEEE 1969 list 1), about 3 to 4 seconds each in these voices.
SENTENCES = {
    "a": "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    "b": "It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
}
LICENCE_SOURCES = (Path("/usr/share/doc/flite/copyright"),)
MAX_TOTAL_BYTES = 1 << 20


def synthesize(voice: str, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True)
        samples, rate = sf.read(wav, dtype="float32")
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if rate != SAMPLE_RATE:  # kal is an 8 kHz diphone voice
        samples = soxr.resample(samples, rate, SAMPLE_RATE, quality="VHQ")
    # Peak at -3 dBFS: the same level for every voice, and room for the clipping tests.
    peak = float(np.max(np.abs(samples))) or 1.0
    return (samples * (10 ** (-3 / 20) / peak)).astype(np.float32)


def flac_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def build() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for voice in VOICES:
        for key, text in SENTENCES.items():
            files[f"{voice}_{key}.flac"] = flac_bytes(synthesize(voice, text))
            files[f"{voice}_{key}.lab"] = (text + "\n").encode()
    licence = next((p for p in LICENCE_SOURCES if p.is_file()), None)
    if licence is None:
        sys.exit("flite's copyright file not found (apt-get install -y flite)")
    files["LICENSE.flite"] = licence.read_bytes()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args()
    if shutil.which("flite") is None:
        sys.exit("flite is not installed (Debian: apt-get install -y flite)")
    files = build()
    total = sum(len(b) for name, b in files.items() if name.endswith(".flac"))
    if total > MAX_TOTAL_BYTES:
        sys.exit(f"fixtures would be {total} bytes, over {MAX_TOTAL_BYTES}")
    if args.check:
        stale = [
            n for n, b in files.items() if not (OUT / n).is_file() or (OUT / n).read_bytes() != b
        ]
        for name in stale:
            print(f"{OUT / name}: differs from what this script makes", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(files)} files to {OUT} ({total} bytes of FLAC)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
