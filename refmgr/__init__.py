"""refmgr: voice references for text-to-speech, kept in git as compact codec tokens."""

from __future__ import annotations

__version__ = "0.1.0"
