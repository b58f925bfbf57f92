"""A hostile voice repository as a user meets it: committed by someone else, then cloned."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.gitenv import must, run


def clone(origin: Path, env: dict[str, str]) -> Path:
    """Commit everything in ``origin`` (no hooks: the attacker has none) and ``git clone`` it."""
    must(run(["git", "add", "-A"], origin, env))
    must(run(["git", "commit", "-q", "--no-verify", "--allow-empty", "-m", "hostile"], origin, env))
    target = origin.parent / "clone"
    must(run(["git", "clone", "-q", str(origin), str(target)], origin.parent, env))
    return target


def refmgr(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=root)


def assert_refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 1 with exactly one line on stderr that holds every needle; no traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(lines) == 1, proc.stderr
    assert all(n in lines[0] for n in needles), (needles, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
