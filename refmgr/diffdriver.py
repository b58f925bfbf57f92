"""The git diff driver that shows token files as text (``diff.refmgr.textconv``).

git config is never cloned or committed, and the Python that ran ``refmgr init`` can go
(make clean, a new venv, a Python upgrade): a driver that names it alone makes ``git diff``
and ``git log -p`` abort at the first token file. So the driver is a small shell command
that tries that Python, then the refmgr on PATH, and otherwise prints a hexdump under a
one-line hint (on stderr too: a diff of a long file may not show its first line): it never
fails.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from refmgr import gitrepo

CONFIG_KEY = "diff.refmgr.textconv"
HINT = "refmgr is not installed here; run pip install refmgr && refmgr init"
_NAME = "refmgr-textconv"  # $0 of the script, in sh's messages
# git runs the command through the shell with the file to show appended: "$1" is the
# recorded Python, "$2" the file. Failed attempts stay quiet (their stderr would reach the
# terminal for each file); '--' keeps a file named like an option a file.
_SCRIPT = (
    'if [ -x "$1" ] && "$1" -m refmgr textconv --git -- "$2" 2>/dev/null; then exit 0; fi; '
    'if command -v refmgr >/dev/null 2>&1 && refmgr textconv --git -- "$2" 2>/dev/null; '
    "then exit 0; fi; "
    f'echo "{HINT}" >&2; echo "{HINT} (the bytes of the file follow)"; '
    'od -A x -t x1 -v "$2"; exit 0'
)
# What refmgr init wrote before this driver: the Python alone, which breaks when it goes.
_OLD_SUFFIXES = (" -m refmgr textconv --git", " -m refmgr textconv --git --")


def command(python: str) -> str:
    """The driver's git config value, recording ``python`` as the first one to try."""
    return shlex.join(["sh", "-c", _SCRIPT, _NAME, python])


def recorded_python(value: str) -> str | None:
    """The Python a driver value of the current form records, or None for any other value."""
    try:
        words = shlex.split(value)
    except ValueError:
        return None
    if len(words) == 5 and words[:4] == ["sh", "-c", _SCRIPT, _NAME]:
        return words[4]
    return None


def problem(root: Path) -> tuple[str, str] | None:
    """What is wrong with the driver of the git repository around ``root``, as
    (state, what to do), or None. A driver the user wrote is theirs: no problem."""
    value = gitrepo.get_config(root, CONFIG_KEY)
    if value is None:
        return (
            "diff-driver-missing",
            "git diff shows token files as binary (git config is not cloned): run refmgr init",
        )
    python = recorded_python(value)
    if python is None and value.endswith(_OLD_SUFFIXES):
        return (
            "diff-driver-stale",
            f"{CONFIG_KEY} names one Python only ({value}); git diff and git log -p fail at "
            "token files when it goes: run refmgr init to update it",
        )
    if python is not None and not os.access(python, os.X_OK):
        return (
            "diff-driver-stale",
            f"{CONFIG_KEY} names {python}, which is gone; git diff falls back to the refmgr "
            "on PATH, else a hexdump: run refmgr init to record this one",
        )
    return None
