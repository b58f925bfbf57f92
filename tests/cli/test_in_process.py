"""The in-process runner the tests use (tests/support/cli.py) answers as the process does
and leaves nothing behind: a leak would make later tests pass or fail by their order."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli, run_process
from tests.support.helpers import RecordingFactory


@pytest.mark.parametrize(
    "args",
    [["ls", "--json"], ["show", "ghost"], ["frobnicate"], ["-C", "refs", "status", "--json"]],
)
def test_same_answer_as_the_process(
    voice_repo: Path, recording: RecordingFactory, args: list[str]
) -> None:
    assert run_cli("add", recording("alpha.wav", seconds=4.0), "--text", "A.").returncode == 0
    here, there = run_cli(*args), run_process(*args)
    assert (here.returncode, here.stdout, here.stderr) == (
        there.returncode,
        there.stdout,
        there.stderr,
    )


def test_nothing_leaks_into_the_next_test(voice_repo: Path, tmp_path: Path) -> None:
    cwd, environ, streams = os.getcwd(), dict(os.environ), (sys.stdin, sys.stdout, sys.stderr)
    handlers = list(logging.getLogger("refmgr").handlers)
    proc = run_cli("-C", str(tmp_path), "status", "--json", env={"REFMGR_DEBUG": "1"})
    assert proc.returncode == 1 and "create one with: refmgr init" in proc.stderr  # ran there
    assert json.loads(run_cli("status", "--json").stdout)["references"] == 0
    assert os.getcwd() == cwd and dict(os.environ) == environ
    assert (sys.stdin, sys.stdout, sys.stderr) == streams
    assert logging.getLogger("refmgr").handlers == handlers


def test_a_failpoint_needs_a_process(voice_repo: Path) -> None:
    with pytest.raises(AssertionError, match="run_process"):
        run_cli("status", env={"REFMGR_FAILPOINT": "before-journal"})
