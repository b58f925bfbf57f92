"""Running the ``refmgr`` command in tests: in this process (the default), or as a process.

``run_cli`` calls ``refmgr.cli.main`` here, with the arguments, working directory,
environment, stdin, stdout and stderr a process would have, and gives back what a process
would (a CompletedProcess). Starting Python and importing refmgr costs 0.5-0.7 s a command
on a busy machine, most of the suite's time when every CLI test paid it.

``run_process`` starts ``python -m refmgr`` for the tests where the process itself is what
is checked: a failpoint that SIGKILLs it, a memory or file-size limit, the modules a command
imports, a terminal, or git and pre-commit starting refmgr.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

# Under REFMGR_FAILPOINT refmgr kills itself: a test that sets it needs run_process.
_PROCESS_ONLY = ("REFMGR_FAILPOINT",)


def run_cli(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``refmgr ARGS`` in this process as a user would; returns what a process would.

    Output is decoded and newlines translated as ``subprocess.run(text=True)`` does, so a
    test reads it the same way either way."""
    from refmgr.cli import main

    argv = [os.fspath(a) for a in args]
    extra = dict(env or {})
    for name in _PROCESS_ONLY:
        if extra.get(name):
            raise AssertionError(f"{name} is set: use run_process, it ends the process")
    # PYTHONPATH acts when Python starts (a sitecustomize that registers a codec): here
    # only folders this process can already import from are the same thing.
    missing = [p for p in extra.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
    if missing:
        raise AssertionError(f"PYTHONPATH adds {missing}: use run_process, it starts Python")
    stdin = io.TextIOWrapper(io.BytesIO(input or b""), encoding="utf-8")
    stdout = _Capture()
    stderr = _Capture()
    with (
        _environment(extra),
        _directory(cwd),
        _streams(stdin, stdout.stream, stderr.stream),
        _argv(["refmgr", *argv]),
    ):
        try:
            code = main(argv)
        except SystemExit as e:  # what a process would exit with
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return subprocess.CompletedProcess(["refmgr", *argv], code, stdout.text(), stderr.text())


def run_process(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m refmgr ARGS`` as a separate process; returns the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "refmgr", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )


def top_level_imports(*args: str) -> set[str]:
    """The top-level packages ``python -m refmgr ARGS`` imports (via -X importtime)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "refmgr", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}


def run_on_terminal(root: Path, *args: str) -> tuple[int, str, str]:
    """Run refmgr with stderr on a pseudo-terminal (progress is drawn there only);
    returns (exit status, what it drew, stdout)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "refmgr", *args], cwd=root, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    out = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(), drawn.decode(errors="replace"), out


class _Capture:
    """A text stream with a binary buffer underneath, as sys.stdout has (refmgr writes
    bytes to ``sys.stdout.buffer`` for decode and textconv)."""

    def __init__(self) -> None:
        self._bytes = io.BytesIO()
        self.stream = io.TextIOWrapper(self._bytes, encoding="utf-8", write_through=True)

    def text(self) -> str:
        if not self.stream.closed:  # main closes stderr on a broken pipe
            self.stream.flush()
        data = self._bytes.getvalue()
        return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    """``extra`` over os.environ for the call; os.environ as it was afterwards (refmgr may
    set defaults in it, as OPENBLAS_NUM_THREADS)."""
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _directory(cwd: Path | None) -> Iterator[None]:
    """The call runs in ``cwd``; the test's directory afterwards (``-C`` changes it)."""
    saved = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


@contextlib.contextmanager
def _streams(stdin: io.TextIOBase, stdout: io.TextIOBase, stderr: io.TextIOBase) -> Iterator[None]:
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    """sys.argv as the process would have it (the crash log records the command line)."""
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved
