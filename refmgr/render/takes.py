"""Retakes: a line whose first take fails the quality gate is synthesized again with other
seeds, and the take to keep is chosen.

The seeds of a line's retakes come from its cache key alone (``take_seed``), so every
machine tries the same takes in the same order and a line's search is reproducible. The
first take is the line's own seed; a line that sets ``{seed=N}`` itself is pinned by hand
and never retaken. The search stops at the first take that passes; if none does, the take
with the fewest problems is kept (the earliest among equals) and reported.

The lock records the chosen take's number and seed (and the output file says so too, see
output.py), so a later render of the line, on any machine, synthesizes that take directly:
the same bytes, no search.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from refmgr.params import MAX_SEED

Scores = Mapping[str, Any]  # a LineScorer's measures: numbers, and the nearest voice's name


@dataclass(frozen=True)
class TakeResult:
    take: int  # from 1
    seed: int
    sha256: str  # of the output file this take made
    scores: Scores | None  # None: not scored (no qa extra, or scoring off)
    problems: tuple[str, ...] = ()  # what of the gate it fails; empty: it passes


@dataclass(frozen=True)
class LineQuality:
    """What the lock records of an output's quality: the scores of the output with sha256
    ``sha256`` under ``score_key`` (scoring.score_key), and every take tried for it."""

    sha256: str
    score_key: str
    scores: Scores
    takes: tuple[TakeResult, ...] = ()  # only when more than one take was tried

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"score_key": self.score_key, "scores": dict(self.scores)}
        if len(self.takes) > 1:
            data["takes"] = [
                {"take": t.take, "seed": t.seed, "sha256": t.sha256, "scores": dict(t.scores or {})}
                for t in self.takes
            ]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, sha256: str) -> LineQuality | None:
        """From a lock entry's ``quality`` (the lock schema checked its shape)."""
        if data is None:
            return None
        takes = tuple(
            TakeResult(t["take"], t["seed"], t["sha256"], t["scores"])
            for t in data.get("takes", ())
        )
        return cls(sha256, data["score_key"], data["scores"], takes)


def take_seed(key: str, take: int, first_seed: int) -> int:
    """The seed of take ``take`` of the line with cache key ``key``."""
    if take == 1:
        return first_seed
    digest = hashlib.sha256(f"refmgr retake {key} {take}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (MAX_SEED + 1)


@dataclass
class TakeSearch:
    """The takes of one line tried in this render, and what to do next."""

    key: str
    first_seed: int
    limit: int  # the most takes this line may have (1 + retakes; 1 when pinned)
    replay: tuple[int, int] | None = None  # (take, seed) a lock recorded: made directly
    tried: list[TakeResult] = field(default_factory=list)

    def next_take(self) -> tuple[int, int] | None:
        """(take, seed) to synthesize next, or None when the search is over."""
        if self.replay is not None:
            return None if self.tried else self.replay
        if self.tried and (not self.tried[-1].problems or len(self.tried) >= self.limit):
            return None
        take = len(self.tried) + 1
        return take, take_seed(self.key, take, self.first_seed)

    def best(self) -> TakeResult:
        return best_take(self.tried)


def best_take(takes: Sequence[TakeResult]) -> TakeResult:
    """A passing take if there is one (the search stops at the first), else the take with
    the fewest problems, the earliest of equals."""
    return min(takes, key=lambda t: (len(t.problems), t.take))
