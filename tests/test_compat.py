"""Token files do not depend on the numpy and pycodec2 generation that wrote them.

refmgr admits numpy 1.26 with pycodec2 3.1 (what Fish Speech's own pins lead to) and
numpy 2.x with pycodec2 4.x. ``make test`` builds a second venv with the oldest admitted
pair (``make test-compat``) and points REFMGR_COMPAT_PYTHON at its interpreter; this test
adds and decodes the same recording there and here and compares the bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import RecordingFactory

COMPAT_ENV = "REFMGR_COMPAT_PYTHON"
VERSIONS = "import numpy, importlib.metadata as m; print(numpy.__version__, m.version('pycodec2'))"


def compat_python() -> str:
    python = os.environ.get(COMPAT_ENV)
    if not python:
        if os.environ.get("REFMGR_REQUIRE_COMPAT") == "1":
            pytest.fail(f"{COMPAT_ENV} is not set but REFMGR_REQUIRE_COMPAT=1 (run: make test)")
        pytest.skip(f"{COMPAT_ENV} is not set (make test builds .venv-compat and sets it)")
    return python


def refmgr(python: str, *args: str | Path, cwd: Path) -> None:
    proc = subprocess.run(
        [python, "-m", "refmgr", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"{python} refmgr {args}: {proc.stderr}"


def generation(python: str) -> tuple[int, int]:
    out = subprocess.run([python, "-c", VERSIONS], capture_output=True, text=True, check=True)
    numpy_version, pycodec2_version = out.stdout.split()
    return int(numpy_version.split(".")[0]), int(pycodec2_version.split(".")[0])


def test_token_files_are_byte_identical_under_numpy_1_and_2(
    tmp_path: Path, recording: RecordingFactory
) -> None:
    other = compat_python()
    assert {generation(sys.executable), generation(other)} == {(1, 3), (2, 4)}
    rec = recording("alpha.wav", seconds=9.0, sample_rate=44100, channels=2)
    made = {}
    for label, python in (("here", sys.executable), ("compat", other)):
        root = tmp_path / label
        refmgr(python, "init", root, cwd=tmp_path)
        refmgr(python, "add", rec, "--name", "alpha", "--text", "The quick brown fox.", cwd=root)
        refmgr(python, "decode", "alpha", "-o", tmp_path / f"{label}.wav", cwd=root)
        manifest = json.loads((root / "manifests" / "alpha.json").read_text())
        del manifest["codec"]["library"]["version"]  # 3.1.0 there, 4.x here: the one difference
        made[label] = (
            (root / "refs" / "alpha.npy").read_bytes(),
            manifest,
            (tmp_path / f"{label}.wav").read_bytes(),
        )
    assert made["here"] == made["compat"]
