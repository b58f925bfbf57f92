"""Speak one utterance with eSpeak NG in a fresh process.

``python -I espeak_worker.py LIBRARY DATA_DIR VOICE RATE PITCH RANGE`` with the UTF-8 text
on stdin; stdout: the sample rate as 4 bytes little-endian, then int16 little-endian samples.

eSpeak NG keeps synthesis state in static variables (pitch flutter position, wave phase)
that carry over from one utterance to the next and survive espeak_Terminate. In a fresh
process, with the noise generator seeded, the first utterance is always the same, so each
utterance gets its own process.
Only ctypes is imported: the process starts in tens of milliseconds.
"""

import ctypes
import os
import struct
import sys

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
CHARS_UTF8 = 1
PHONEMES = 0x100  # espeakPHONEMES: [[...]] in the text is phoneme mnemonics (lexicon entries)
PARAM_RATE, PARAM_PITCH, PARAM_RANGE = 1, 3, 4

CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def main() -> int:
    library, data_dir, voice, rate, pitch, pitch_range = sys.argv[1:7]
    lib = ctypes.CDLL(library)
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    # eSpeak wants the folder that holds espeak-ng-data.
    sample_rate = lib.espeak_Initialize(
        AUDIO_OUTPUT_SYNCHRONOUS, 0, os.path.dirname(data_dir).encode(), 0
    )
    if sample_rate <= 0:
        print(f"cannot initialise eSpeak NG with data at {data_dir}", file=sys.stderr)
        return 2
    # Initialisation seeds eSpeak's noise generator from the clock; variants with breath
    # noise (+f2, +f3, +f5) would differ from run to run without a fixed seed.
    lib.espeak_ng_SetRandSeed(1)
    samples = bytearray()

    def collect(wav, n, _events):  # type: ignore[no-untyped-def]
        if n > 0:
            samples.extend(ctypes.string_at(wav, n * 2))
        return 0

    callback = CALLBACK(collect)
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        print(f"unknown eSpeak NG voice '{voice}'", file=sys.stderr)
        return 2
    for param, value in ((PARAM_RATE, rate), (PARAM_PITCH, pitch), (PARAM_RANGE, pitch_range)):
        lib.espeak_SetParameter(param, int(value), 0)
    text = sys.stdin.buffer.read()
    status = lib.espeak_Synth(
        ctypes.c_char_p(text), len(text) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8 | PHONEMES, None, None
    )
    lib.espeak_Synchronize()
    if status != 0:
        print(f"eSpeak NG failed with status {status}", file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    out.write(struct.pack("<I", sample_rate))
    if sys.byteorder != "little":
        swapped = bytearray(len(samples))
        swapped[0::2], swapped[1::2] = samples[1::2], samples[0::2]
        samples = swapped
    out.write(bytes(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
