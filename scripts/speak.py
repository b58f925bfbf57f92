"""Make a deterministic speech recording with eSpeak NG, for demos and tests.

    python scripts/speak.py --text-file examples/alpha.txt -o build/alpha.wav

The same text and options always give the same bytes. Default: 44.1 kHz, 16-bit stereo,
like a studio export.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile

from refmgr.backends.espeak import Voice, speak_float


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text")
    source.add_argument("--text-file", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--voice", default="en-us", help="eSpeak NG voice, e.g. en-us+m3")
    parser.add_argument("--rate", type=int, default=175, help="words per minute")
    parser.add_argument("--pitch", type=int, default=50, help="0-100")
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--channels", type=int, default=2)
    args = parser.parse_args()
    text = args.text if args.text is not None else args.text_file.read_text("utf-8")
    audio = speak_float(
        " ".join(text.split()), args.sample_rate, Voice(args.voice, args.rate, args.pitch)
    )
    frames = np.repeat(audio[:, None], args.channels, axis=1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(args.output, frames, args.sample_rate, subtype="PCM_16")
    print(
        f"{args.output}: {len(audio) / args.sample_rate:.1f} s, {args.output.stat().st_size} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
