"""Subtitles of a mix: one cue per script line, timed from the sample positions.

A cue's start and end are the first and one-past-last sample of its line in the mix,
turned into milliseconds with integer arithmetic (rounded half up), so a cue is exact to
the millisecond whatever the sample rate; the text is ``speaker: line``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    start: int  # first sample of the line in the mix
    end: int  # one past its last sample
    speaker: str
    text: str


def sample_ms(sample: int, rate: int) -> int:
    """The millisecond nearest to sample ``sample``'s start (half up), exactly."""
    return (2000 * sample + rate) // (2 * rate)


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _one_line(text: str) -> str:
    # A blank line ends a cue in both formats: a cue's text stays on one line.
    return " ".join(text.split())


def srt(cues: Sequence[Cue], rate: int) -> str:
    blocks = []
    for number, cue in enumerate(cues, start=1):
        span = (
            f"{_clock(sample_ms(cue.start, rate), ',')} --> {_clock(sample_ms(cue.end, rate), ',')}"
        )
        blocks.append(f"{number}\n{span}\n{_one_line(f'{cue.speaker}: {cue.text}')}\n")
    return "\n".join(blocks)


def _vtt_text(text: str) -> str:
    # WebVTT cue text is markup: &, < and > are escaped, which also keeps "-->" out of it.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(cues: Sequence[Cue], rate: int) -> str:
    blocks = ["WEBVTT\n"]
    for number, cue in enumerate(cues, start=1):
        span = (
            f"{_clock(sample_ms(cue.start, rate), '.')} --> {_clock(sample_ms(cue.end, rate), '.')}"
        )
        text = _vtt_text(_one_line(f"{cue.speaker}: {cue.text}"))
        blocks.append(f"{number}\n{span}\n{text}\n")
    return "\n".join(blocks)
