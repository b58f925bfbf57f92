"""This repository's own example voice is intact and reproducible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from refmgr.project import open_project
from refmgr.reference import load_reference, read_codes

ROOT = Path(__file__).resolve().parent.parent


def test_alpha_loads_and_verifies() -> None:
    project = open_project(ROOT)
    ref = load_reference(project, "alpha")
    codes = read_codes(project, ref)
    assert codes.shape == (8, 1455)
    assert ref.manifest.language == "en"
    assert (ROOT / "refs" / "alpha.npy").stat().st_size <= 13_000


def test_alpha_is_what_the_script_makes() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/make_alpha.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
