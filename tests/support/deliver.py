"""Helpers of the delivery tests: a rendered repository, the mix record, subtitle parsing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import run_cli


def rendered_repo(root: Path) -> Path:
    proc = run_cli("render", "ep.txt")
    assert proc.returncode == 0, proc.stderr
    return root


def mix_record(audio: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(audio.with_suffix(".mix.json").read_text())
    return data


@dataclass(frozen=True)
class ParsedCue:
    number: int
    start_ms: int
    end_ms: int
    text: str


_SPAN = re.compile(r"^(\d\d):(\d\d):(\d\d)([,.])(\d\d\d) --> (\d\d):(\d\d):(\d\d)([,.])(\d\d\d)$")


def _ms(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def parse_cues(text: str, separator: str) -> list[ParsedCue]:
    """The cues of an SRT (``,``) or WebVTT (``.``) file, strictly: numbered blocks of a
    time span and one line of text, separated by one blank line."""
    blocks = text.rstrip("\n").split("\n\n")
    if separator == ".":
        assert blocks[0] == "WEBVTT"
        blocks = blocks[1:]
    cues = []
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert len(lines) == 3, block
        assert lines[0] == str(number)
        match = _SPAN.match(lines[1])
        assert match is not None, lines[1]
        g = match.groups()
        assert g[3] == g[8] == separator
        cues.append(ParsedCue(number, _ms(*g[0:3], g[4]), _ms(*g[5:8], g[9]), lines[2]))
    return cues
