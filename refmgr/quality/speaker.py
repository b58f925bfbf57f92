"""Speaker embedding: resemblyzer's GE2E encoder (256-d, unit length; weights in its wheel).

One pass over a recording gives both its embedding and its partial embeddings (1.6 s
windows, 1.3 a second), from which the single-speaker consistency is measured: the
lowest cosine similarity between any two stretches of about 4 s of speech.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refmgr.quality.base import QualityUnavailable
from refmgr.quality.registry import checked_weight, scorer_pins

RATE = 16000
WEIGHTS = "resemblyzer/pretrained.pt"
# Partial embeddings averaged into one consistency window (4 partials span ~3.9 s), and
# the step between windows, in partials. On the fixture voices (10 s each, and every
# ordered pair of two voices), 4 gave the widest gap between one speaker (lowest 0.86) and
# two (highest 0.75) that still leaves a 6 s recording two windows; 3 gave 0.83 vs 0.73,
# 2 gave 0.77 vs 0.68. Comparing each window with the whole separates far less (0.03).
WINDOW_PARTIALS = 4
WINDOW_STEP = 2

SILENCE = 1e-3  # peak under -60 dBFS
# torch's CPU threads while embedding. The GE2E network is a small LSTM: one thread does
# it in 0.35 s for 30 s of audio here, while torch's default (a thread a core) took 1 to
# 7.5 s on 2 cores that other processes kept busy (threads spinning on each other).
THREADS = 1

Embedding = npt.NDArray[np.float32]


class SpeakerEncoder:
    id = "speaker"
    sample_rate = RATE

    def __init__(self, weight_file: Path | None = None, threads: int | None = THREADS) -> None:
        self._weight_file = weight_file
        self._threads = threads
        self._encoder: Any = None
        self._preprocess: Any = None
        self._torch: Any = None

    def pins(self) -> dict[str, str]:
        return scorer_pins(self.id)

    def load(self) -> None:
        if self._encoder is not None:
            return
        path = checked_weight(self.id, WEIGHTS, self._weight_file)  # before unpickling it
        try:
            import warnings

            with warnings.catch_warnings():
                # webrtcvad (under resemblyzer) imports pkg_resources, which warns.
                warnings.simplefilter("ignore")
                import torch
                from resemblyzer import VoiceEncoder, preprocess_wav
        except ImportError as e:
            raise QualityUnavailable("speaker scorer (resemblyzer)", str(e)) from None
        self._encoder = VoiceEncoder(device="cpu", verbose=False, weights_fpath=path)
        self._preprocess = preprocess_wav
        self._torch = torch

    def analyse(self, audio: npt.NDArray[np.float32]) -> tuple[Embedding, float | None]:
        """(embedding, consistency) of 16 kHz mono audio; consistency None when too short."""
        self.load()
        audio = np.asarray(audio, dtype=np.float32)
        # resemblyzer normalises the volume (a division by the level: NaN for digital
        # silence) and trims pauses (all of a silent line): silence is embedded as it is.
        silent = len(audio) == 0 or float(np.max(np.abs(audio))) < SILENCE
        wav = audio if silent else self._preprocess(audio, source_sr=RATE)
        if len(wav) == 0:
            wav = audio if len(audio) else np.zeros(RATE // 10, dtype=np.float32)
        with self._thread_limit():
            embedding, partials, _ = self._encoder.embed_utterance(wav, return_partials=True)
        return embedding.astype(np.float32), _consistency(partials)

    @contextlib.contextmanager
    def _thread_limit(self) -> Iterator[None]:
        """torch's CPU threads for this call only (others, a Fish codec say, keep theirs)."""
        if self._threads is None:
            yield
            return
        before = self._torch.get_num_threads()
        self._torch.set_num_threads(self._threads)
        try:
            yield
        finally:
            self._torch.set_num_threads(before)

    def embed(self, audio: npt.NDArray[np.float32]) -> Embedding:
        return self.analyse(audio)[0]


def _consistency(partials: npt.NDArray[np.float32]) -> float | None:
    starts = range(0, len(partials) - WINDOW_PARTIALS + 1, WINDOW_STEP)
    windows = [_unit(partials[s : s + WINDOW_PARTIALS].mean(axis=0)) for s in starts]
    if len(windows) < 2:
        return None
    return min(float(a @ b) for a, b in itertools.combinations(windows, 2))


def _unit(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(_unit(a) @ _unit(b))
