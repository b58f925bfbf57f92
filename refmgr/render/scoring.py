"""Scoring rendered lines: refmgr.quality's LineScorer, run once per output, in a worker.

Every output a render leaves is scored (with the qa extra installed): its similarity to
its reference's speaker embedding and to every other voice of the repository (cast
identification), DNSMOS, loudness, true peak, clipping, silence at its edges and its
duration against what its text takes at the reference's speaking rate.

Scores are cached by their *score key*: the hash of what they depend on, which is the
output's sha256, the scorers' pins, the line's text and character, and the embeddings and
speaking rates of every voice in the repository (a voice added changes who is nearest).
Nothing about paths or times: a no-op render scores nothing, and neither does a render in
a moved checkout or another clone. The scorer is built only when some output has no
scores under its key, and loads its models once for the whole render.

Scoring runs in one worker thread, so a line is scored while the engine speaks the next
(eSpeak in its own process, Fish Speech on a GPU); the libraries under the scorers release
the GIL while they compute.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from refmgr.config import RenderQuality
from refmgr.project import Project
from refmgr.reference import iter_references
from refmgr.render.gate import problems
from refmgr.render.output import pcm_of
from refmgr.render.plan import canonical_json
from refmgr.render.takes import Scores

if TYPE_CHECKING:
    from refmgr.quality.line import LineScorer

SCORE_KEY_VERSION = 1
DIGITS = 4  # decimals kept in the lock: far below any limit's resolution


@dataclass(frozen=True)
class Voices:
    """Every voice of the repository the scorer can compare a line with."""

    embeddings: dict[str, npt.NDArray[np.float32]]  # name -> speaker embedding
    chars_per_second: dict[str, float]  # name -> speaking rate of its reference
    digest: str  # identifies all of the above


def repository_voices(project: Project) -> Voices:
    """The embeddings and speaking rates the manifests hold (refmgr add measured them; a
    manifest without them is left out, and so are invalid ones: validate reports those)."""
    from refmgr.quality.reference import reference_embedding, reference_measures

    embeddings: dict[str, npt.NDArray[np.float32]] = {}
    rates: dict[str, float] = {}
    described: dict[str, Any] = {}
    for reference in iter_references(project):
        if isinstance(reference, Exception):
            continue
        embedding = reference_embedding(reference.manifest)
        rate = reference_measures(reference.manifest).get("chars_per_second")
        if embedding is not None:
            embeddings[reference.name] = embedding
        if rate is not None and math.isfinite(rate) and rate > 0:
            rates[reference.name] = rate
        described[reference.name] = {
            "embedding": None
            if embedding is None
            else hashlib.sha256(np.ascontiguousarray(embedding, "<f4").tobytes()).hexdigest(),
            "chars_per_second": rate,
        }
    digest = hashlib.sha256(canonical_json(described)).hexdigest()
    return Voices(embeddings, rates, digest)


class Scoring:
    """The scoring of one render: the score keys, the scorer (built when first needed) and
    its worker thread. ``close`` when done."""

    def __init__(
        self,
        project: Project,
        limits: RenderQuality,
        *,
        draft: bool,
        scorer: LineScorer | None = None,
    ) -> None:
        from refmgr.quality.line import LineScorer

        self.limits = limits
        self.draft = draft
        self.speaker = _wanted(limits.speaker, draft=draft)
        self.dnsmos = _wanted(limits.dnsmos, draft=draft)
        # Building a LineScorer imports no library and reads no weights: pins are cheap.
        self._scorer = (
            scorer if scorer is not None else LineScorer(speaker=self.speaker, dnsmos=self.dnsmos)
        )
        self.pins = self._scorer.pins()
        self.voices = repository_voices(project)
        self.calls = 0  # outputs scored (the scorer's work), for reports and tests
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def score_key(self, sha256: str, *, text: str, character: str) -> str:
        document = {
            "version": SCORE_KEY_VERSION,
            "output": sha256,
            "scorers": self.pins,
            "text": text,
            "character": character,
            "voices": self.voices.digest,
        }
        return hashlib.sha256(canonical_json(document)).hexdigest()

    def judge(self, scores: Scores) -> tuple[str, ...]:
        return tuple(problems(scores, self.limits, draft=self.draft))

    def submit(
        self, data: bytes, *, text: str, character: str
    ) -> concurrent.futures.Future[Scores]:
        """Score an output's bytes in the worker thread."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="refmgr-score")
        return self._pool.submit(self.measure, data, text=text, character=character)

    def measure(self, data: bytes, *, text: str, character: str) -> Scores:
        """The scores of an output file's bytes (what is on disk, to the sample)."""
        audio, rate = pcm_of(data)
        self.calls += 1
        scores = self._scorer.score(
            audio,
            rate,
            text=text,
            own=character,
            embeddings=self.voices.embeddings,
            chars_per_second=self.voices.chars_per_second.get(character),
        )
        return {k: _stored(v) for k, v in sorted(scores.items())}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _wanted(setting: str, *, draft: bool) -> bool:
    return setting == "always" or (setting == "clone" and not draft)


def _stored(value: Any) -> Any:
    # Rounded for the lock, and never NaN or infinite (JSON has neither).
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if not math.isfinite(value):
        return None
    return round(float(value), DIGITS)
