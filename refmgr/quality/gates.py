"""Judge a reference's measures against [quality.reference]: warnings and refusals.

Light (no scorer imports): `refmgr add` and `refmgr lint` both judge through here, so the
wording of every message has one home.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from refmgr.config import ReferenceGates

Level = Literal["warn", "refuse"]

# measure -> (what it is called in a message, unit, format)
MEASURES: dict[str, tuple[str, str, str]] = {
    "speech_ratio": ("speech ratio", "", ".2f"),
    "snr_db": ("signal-to-noise ratio", " dB", ".1f"),
    "clipped_ratio": ("clipped samples", "", ".2%"),
    "true_peak_db": ("true peak", " dBTP", ".1f"),
    "lufs": ("integrated loudness", " LUFS", ".1f"),
    "dnsmos_sig": ("DNSMOS speech quality (SIG)", "", ".2f"),
    "dnsmos_bak": ("DNSMOS background (BAK)", "", ".2f"),
    "dnsmos_ovrl": ("DNSMOS overall (OVRL)", "", ".2f"),
    "chars_per_second": ("speaking rate", " chars/s", ".1f"),
    "speaker_consistency": ("single-speaker consistency", "", ".2f"),
}


@dataclass(frozen=True)
class Limit:
    measure: str
    level: Level
    direction: Literal["below", "above"]
    value: float

    @property
    def key(self) -> str:
        return f"quality.reference.{self.measure}_{self.level}_{self.direction}"

    def broken_by(self, measured: float) -> bool:
        return measured < self.value if self.direction == "below" else measured > self.value


@dataclass(frozen=True)
class Verdict:
    measure: str
    level: Level
    measured: float
    limit: Limit
    message: str  # "problem (measured X, limit Y)", without the file: the caller names it


def limits(gates: ReferenceGates) -> list[Limit]:
    found: list[Limit] = []
    for f in dataclasses.fields(gates):
        if f.name == "gate":
            continue
        measure, level, direction = _parse(f.name)
        found.append(Limit(measure, level, direction, float(getattr(gates, f.name))))
    return found


def _parse(name: str) -> tuple[str, Level, Literal["below", "above"]]:
    stem, _, direction = name.rpartition("_")
    measure, _, level = stem.rpartition("_")
    if (
        measure not in MEASURES
        or level not in ("warn", "refuse")
        or direction
        not in (
            "below",
            "above",
        )
    ):
        raise AssertionError(f"ReferenceGates field {name!r} is not MEASURE_LEVEL_DIRECTION")
    return measure, level, direction  # type: ignore[return-value]


# Measures of audio decoded from tokens (`refmgr lint --update` on a reference added
# without refmgr[qa]) that say more about the codec than the recording: Codec2 at 3200
# bit/s alone scores DNSMOS near 2 and adds a noise floor. They are stored, not judged.
CODEC_SENSITIVE = frozenset({"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "snr_db"})


def judge(
    measures: Mapping[str, float], gates: ReferenceGates, source: str = "recording"
) -> list[Verdict]:
    """Every limit the measures break; for a measure breaking both, only the refusal.

    With ``gates.gate`` off, refusals are reported as warnings. ``source`` "tokens":
    the measures come from decoded tokens, and CODEC_SENSITIVE ones are not judged.
    """
    skip = CODEC_SENSITIVE if source == "tokens" else frozenset()
    verdicts: dict[str, Verdict] = {}
    for limit in sorted(limits(gates), key=lambda lim: lim.level == "warn"):
        measured = measures.get(limit.measure)
        if measured is None or limit.measure in verdicts or limit.measure in skip:
            continue
        if not limit.broken_by(measured):
            continue
        label, unit, fmt = MEASURES[limit.measure]
        side = "too low" if limit.direction == "below" else "too high"
        level: Level = limit.level if gates.gate else "warn"
        message = (
            f"{label} {side} (measured {measured:{fmt}}{unit}, "
            f"limit {limit.value:{fmt}}{unit}: {limit.key})"
        )
        verdicts[limit.measure] = Verdict(limit.measure, level, measured, limit, message)
    order = list(MEASURES)
    return sorted(verdicts.values(), key=lambda v: (v.level != "refuse", order.index(v.measure)))


def refusals(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.level == "refuse"]


def warnings(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.level == "warn"]
