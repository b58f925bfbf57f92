"""Decode Codec2 frames in a fresh process: ``python -I codec2_worker.py MODE``.

stdin: the frames, back to back; stdout: little-endian int16 samples. Runs as a plain
script (no refmgr import) so that it starts fast and its decoder's random generator
starts from the library's initial state. See codec2.py.
"""

import sys

import pycodec2


def main() -> int:
    decoder = pycodec2.Codec2(int(sys.argv[1]))
    data = sys.stdin.buffer.read()
    size = decoder.bytes_per_frame()
    if len(data) % size:
        print(f"input is not a whole number of {size}-byte frames", file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    for i in range(0, len(data), size):
        out.write(decoder.decode(data[i : i + size]).astype("<i2").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
