"""Fixtures for the quality scorers: the committed flite voices, as audio and as files.

These tests run the real scorers (refmgr[qa]; ``make test`` installs them). Without the
extra they are skipped, unless REFMGR_REQUIRE_QA=1 (set by ``make test`` and CI), where a
missing scorer is an error rather than a silent skip. Tests marked ``no_qa`` need nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.quality import VOICES_DIR, Audio, clip, require_qa, transcript

VOICES = ("slt", "rms", "awb", "kal")
RATE = 16000

__all__ = ["VOICES_DIR", "Audio", "clip", "transcript"]  # for the tests of this folder
QA = {"REFMGR_QUALITY": "auto"}  # tests/conftest.py turns it off for every other test


@pytest.fixture(autouse=True)
def _scorers_installed(request: pytest.FixtureRequest) -> None:
    if not request.node.get_closest_marker("no_qa"):
        require_qa()


def without_qa(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """refmgr as run where refmgr[qa] is not installed: Python's own import blocking
    (a None in sys.modules) makes the scorers' packages unfindable."""
    code = (
        "import sys\n"
        "for name in ('resemblyzer', 'speechmos', 'pyloudnorm', 'webrtcvad'):\n"
        "    sys.modules[name] = None\n"
        "from refmgr.cli import main\n"
        "sys.exit(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **QA},
    )
