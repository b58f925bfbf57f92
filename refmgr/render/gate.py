"""The quality gate of a rendered line: its scores against ``[quality.render]``.

Pure: no scorer runs here, so ``render status`` and a no-op render judge the scores the lock
already holds, with whatever limits refmgr.toml says now. A measure that was not taken (no
embedding for the reference, DNSMOS off for draft engines) is not judged. Speaker measures
are not judged for draft engines: their voices are eSpeak's, not clones, and would fail
every line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from refmgr.config import RenderQuality


@dataclass(frozen=True)
class Check:
    measure: str  # a key of the scores
    limit: str  # the field of RenderQuality
    low: bool  # True: the measure must be at least the limit; False: at most
    describe: Callable[[float, float, Mapping[str, Any]], str]


def _number(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _similarity(value: float, limit: float, scores: Mapping[str, Any]) -> str:
    text = f"speaker similarity {_number(value)} < {_number(limit)}"
    nearest, near = scores.get("nearest"), scores.get("nearest_similarity")
    if isinstance(nearest, str) and isinstance(near, int | float):
        text += f" (nearest voice: {nearest}, {_number(near)})"
    return text


def _margin(value: float, limit: float, scores: Mapping[str, Any]) -> str:
    nearest, near = scores.get("nearest"), scores.get("nearest_similarity")
    other = ""
    if isinstance(nearest, str) and isinstance(near, int | float):
        other = f"; nearest voice: {nearest}, {_number(near)}"
    return (
        f"cast identification: margin over the nearest other voice {_number(value)} "
        f"< {_number(limit)}{other}"
    )


CHECKS = (
    Check("similarity", "min_similarity", True, _similarity),
    Check("margin", "min_margin", True, _margin),
    Check(
        "dnsmos_ovrl",
        "min_dnsmos_ovrl",
        True,
        lambda v, lim, _: f"DNSMOS overall {_number(v)} < {_number(lim)}",
    ),
    Check("lufs", "min_lufs", True, lambda v, lim, _: f"loudness {_number(v, 1)} LUFS < {lim:.1f}"),
    Check(
        "true_peak_db",
        "max_true_peak_db",
        False,
        lambda v, lim, _: f"true peak {_number(v, 1)} dBTP > {lim:.1f}",
    ),
    Check(
        "clipped_ratio",
        "max_clipped_ratio",
        False,
        lambda v, lim, _: f"clipped samples {v:.2%} > {lim:.2%}",
    ),
    Check(
        "lead_silence_s",
        "max_lead_silence_s",
        False,
        lambda v, lim, _: f"leading silence {_number(v)} s > {_number(lim)} s",
    ),
    Check(
        "trail_silence_s",
        "max_trail_silence_s",
        False,
        lambda v, lim, _: f"trailing silence {_number(v)} s > {_number(lim)} s",
    ),
    Check(
        "duration_ratio",
        "min_duration_ratio",
        True,
        lambda v, lim, _: (
            f"duration {_number(v)}x the expected < {_number(lim)}x (truncated or rushed?)"
        ),
    ),
    Check(
        "duration_ratio",
        "max_duration_ratio",
        False,
        lambda v, lim, _: (
            f"duration {_number(v)}x the expected > {_number(lim)}x (slow, or babbling?)"
        ),
    ),
)
SPEAKER_MEASURES = frozenset({"similarity", "margin"})


def problems(scores: Mapping[str, Any], limits: RenderQuality, *, draft: bool) -> list[str]:
    """What of the gate ``scores`` fail, one phrase each; empty if they pass."""
    return [phrase for _, phrase in failures(scores, limits, draft=draft)]


def failures(
    scores: Mapping[str, Any], limits: RenderQuality, *, draft: bool
) -> list[tuple[str, str]]:
    """What of the gate ``scores`` fail: (measure, phrase) each, so that the review page
    can mark the very scores that fail; empty if they pass."""
    found = []
    for check in CHECKS:
        if draft and check.measure in SPEAKER_MEASURES:
            continue
        value = scores.get(check.measure)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue  # not measured
        limit = float(getattr(limits, check.limit))
        # A NaN or infinite measure (the loudness of silence) fails the way its sign says.
        failed = value < limit if check.low else value > limit
        if math.isnan(value) or failed:
            found.append((check.measure, check.describe(float(value), limit, scores)))
    return found


def summary(scores: Mapping[str, Any]) -> str:
    """The main scores, short, for `render status`."""
    parts = []
    for key, label, digits in (
        ("similarity", "sim", 2),
        ("margin", "margin", 2),
        ("dnsmos_ovrl", "mos", 1),
        ("lufs", "LUFS", 0),
        ("duration_ratio", "dur", 2),
    ):
        value = scores.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{label} {value:.{digits}f}")
    return " ".join(parts)
