"""F10: textconv reads what git or a clone points it at. A symlink to /dev/zero, a FIFO, a
directory or an oversized file is refused from its type and size, before any read, quickly:
one line and exit 1; with --git (never failing, for git diff) it is described instead."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.hostile import assert_refused, clone

pytest_plugins = ["tests.support.voice_fixtures"]


def _textconv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "textconv", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=20,  # before the fix: blocks forever on a FIFO, reads /dev/zero forever
    )
    assert time.monotonic() - start < 10
    return proc


@pytest.fixture
def hostile(repo: Path, env: dict[str, str]) -> Path:
    """A clone whose refs/ holds a committed symlink to /dev/zero and a 2 MiB token file,
    plus a FIFO and a directory made beside them (git cannot carry those)."""
    (repo / "refs" / "zero.npy").symlink_to("/dev/zero")
    (repo / "refs" / "big.npy").write_bytes(b"\x93NUMPY" + b"\0" * (2 * 1024 * 1024))
    root = clone(repo, env)
    os.mkfifo(root / "refs" / "fifo.npy")
    (root / "refs" / "dir.npy").mkdir()
    return root


CASES = {
    "zero.npy": "not a regular file (a character device)",
    "fifo.npy": "not a regular file (a FIFO)",
    "dir.npy": "is a directory",
    "big.npy": "over the limit of 1048576 bytes",
}


@pytest.mark.parametrize("name", CASES)
def test_textconv_refuses_before_reading(hostile: Path, name: str) -> None:
    assert_refused(_textconv(hostile, f"refs/{name}"), f"refs/{name}: {CASES[name]}")


@pytest.mark.parametrize("name", CASES)
def test_textconv_for_git_describes_and_returns(hostile: Path, name: str) -> None:
    proc = _textconv(hostile, "--git", "--", f"refs/{name}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"refmgr token file: INVALID: {CASES[name]}"), proc.stdout


def test_git_log_p_through_textconv_survives_the_symlink(
    hostile: Path, env: dict[str, str]
) -> None:
    """git itself hands textconv the symlink's target path as a blob, not /dev/zero."""
    from tests.support.cli import run_cli

    assert run_cli("init", ".", cwd=hostile).returncode == 0
    proc = subprocess.run(
        ["git", "log", "-p", "--", "refs/"],
        cwd=hostile,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
