from __future__ import annotations

import numpy as np

from refmgr.backends.espeak import speak_float
from refmgr.backends.registry import CODECS, load_codec


def speech(seconds: float = 3.0) -> np.ndarray:
    audio = speak_float("Testing the codec with a few spoken words.", 8000)
    return np.resize(audio, int(seconds * 8000))


def test_shape_dtype_and_frame_count() -> None:
    codec = load_codec("codec2-3200")
    samples = speech(3.01)
    codes = codec.encode(samples)
    assert codes.dtype == np.uint8
    assert codes.shape == (8, CODECS["codec2-3200"].frames_for(len(samples)))
    assert codes.shape[1] == 151  # ceil(24080 / 160)


def test_encoding_does_not_depend_on_what_came_before() -> None:
    codec = load_codec("codec2-3200")
    a, b = speech(2.0), speech(3.0)[::-1].copy()
    first = codec.encode(a)
    codec.encode(b)
    assert np.array_equal(codec.encode(a), first)


def test_decoding_is_repeatable_in_one_process() -> None:
    codec = load_codec("codec2-3200")
    codes = codec.encode(speech())
    one, two = codec.decode(codes), codec.decode(codes)
    assert one.dtype == np.float32
    assert len(one) == codes.shape[1] * 160
    assert np.array_equal(one, two)


def test_decoded_audio_resembles_the_input() -> None:
    codec = load_codec("codec2-3200")
    samples = speech()
    decoded = codec.decode(codec.encode(samples))

    def envelope(x: np.ndarray) -> np.ndarray:
        return np.sqrt(np.mean(x[: len(x) // 400 * 400].reshape(-1, 400) ** 2, axis=1))

    # Codec2 delays the signal by a few milliseconds: take the best alignment.
    n = len(samples) - 800
    corr = max(
        np.corrcoef(envelope(samples[:n]), envelope(decoded[lag : lag + n]))[0, 1]
        for lag in range(0, 800, 40)
    )
    assert corr > 0.9
    silence = np.zeros_like(samples)
    assert np.abs(codec.decode(codec.encode(silence))).max() < 0.05
