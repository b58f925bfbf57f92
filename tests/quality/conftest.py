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

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from refmgr.quality.available import missing_modules

VOICES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "voices"
VOICES = ("slt", "rms", "awb", "kal")
RATE = 16000

Audio = npt.NDArray[np.float32]
QA = {"REFMGR_QUALITY": "auto"}  # tests/conftest.py turns it off for every other test


@pytest.fixture(autouse=True)
def _scorers_installed(request: pytest.FixtureRequest) -> None:
    missing = missing_modules()
    if not missing or request.node.get_closest_marker("no_qa"):
        return
    if os.environ.get("REFMGR_REQUIRE_QA") == "1":
        pytest.fail(f"{', '.join(missing)} not installed but REFMGR_REQUIRE_QA=1 (make test)")
    pytest.skip(f"refmgr[qa] is not installed (missing {', '.join(missing)})")


def clip(name: str) -> tuple[Audio, int]:
    """A fixture clip, ``slt_a`` say, as float32 mono and its rate."""
    audio, rate = sf.read(VOICES_DIR / f"{name}.flac", dtype="float32")
    return audio, int(rate)


def transcript(name: str) -> str:
    return (VOICES_DIR / f"{name}.lab").read_text().strip()


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
