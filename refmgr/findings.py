"""A finding: one problem with one file, reported as ``path: problem``.

Checks return findings instead of raising, so that a run reports every problem at once;
the command then exits 1 if there was any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Finding:
    path: str  # relative to the voice repository's root, '/'-separated
    problem: str
    check: str  # which check found it: manifest, tokens, pairing, pin, audio, config, git

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "problem": self.problem, "check": self.check}
