"""Hostile inputs under a 1 GiB address-space limit: each is refused in one line, quickly.

Every command runs as a subprocess under ``RLIMIT_AS`` = 1 GiB, so reading a hostile file
whole (a 4 GiB sparse recording, /dev/zero, a 200 MB manifest) ends in MemoryError (exit 3)
instead of passing quietly on a machine with plenty of memory. What can arrive through git
(manifests, scripts) is committed in one repository and used in a fresh clone of it.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import RecordingFactory, git, one_line_error, snapshot

MEMORY_LIMIT = 1 << 30
TIME_LIMIT_S = 5
GIB = 1 << 30


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_bounded(*args: str | os.PathLike[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``refmgr ARGS`` with at most 1 GiB of address space and TIME_LIMIT_S seconds."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "refmgr", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
        preexec_fn=_limit_memory,  # the limit is set in the child only
        check=False,
    )


def assert_refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert one_line_error(proc.stderr, *needles), proc.stderr[-2000:]


def sparse(path: Path, size: int) -> Path:
    with open(path, "ab") as f:
        f.truncate(size)
    return path


def test_the_limit_leaves_room_for_a_plain_command(voice_repo: Path) -> None:
    """The bound itself is sane: ls of an empty repository runs fine under it."""
    proc = run_bounded("ls", cwd=voice_repo)
    assert proc.returncode == 0, proc.stderr


def test_add_dev_zero(voice_repo: Path) -> None:
    before = snapshot(voice_repo)
    proc = run_bounded("add", "/dev/zero", "--text", "x", cwd=voice_repo)
    assert_refused(proc, "/dev/zero", "not a regular file")
    assert snapshot(voice_repo) == before


def test_add_4_gib_sparse_wav(voice_repo: Path, tmp_path: Path) -> None:
    big = sparse(tmp_path / "big.wav", 4 * GIB)
    before = snapshot(voice_repo)
    proc = run_bounded("add", big, "--text", "x", cwd=voice_repo)
    assert_refused(proc, "big.wav", "over the limit")
    assert snapshot(voice_repo) == before


def test_add_fifo(voice_repo: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    before = snapshot(voice_repo)
    proc = run_bounded("add", fifo, "--text", "x", cwd=voice_repo)
    assert_refused(proc, "pipe.wav", "not a regular file")
    assert snapshot(voice_repo) == before


def test_add_valid_wav_followed_by_4_gib_of_junk(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    good = recording("good.wav", seconds=10.0)
    padded = tmp_path / "padded.wav"
    shutil.copyfile(good, padded)
    sparse(padded, good.stat().st_size + 4 * GIB)
    before = snapshot(voice_repo)
    proc = run_bounded("add", padded, "--text", "x", cwd=voice_repo)
    assert_refused(proc, "padded.wav")
    assert snapshot(voice_repo) == before


def test_add_text_file_dev_zero(voice_repo: Path, recording: RecordingFactory) -> None:
    rec = recording("alpha.wav", seconds=5.0)
    before = snapshot(voice_repo)
    proc = run_bounded("add", rec, "--text-file", "/dev/zero", cwd=voice_repo)
    assert_refused(proc, "/dev/zero", "not a regular file")
    assert snapshot(voice_repo) == before


def _commit_and_clone(origin: Path, tmp_path: Path) -> Path:
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "hostile")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def test_ls_with_a_200_mb_manifest_from_a_clone(voice_repo: Path, tmp_path: Path) -> None:
    manifests = voice_repo / "manifests"
    manifests.mkdir(exist_ok=True)
    with open(manifests / "huge.json", "wb") as f:
        # 100 million list items: ~0.8 GB of Python objects once parsed.
        f.write(b'{"schema_version": 1, "name": "huge", "padding": [')
        f.write(b"0," * (100 << 20))
        f.write(b"0]}\n")
    clone = _commit_and_clone(voice_repo, tmp_path)
    before = snapshot(clone)
    proc = run_bounded("ls", cwd=clone)
    assert_refused(proc, "huge.json", "over the limit")
    assert snapshot(clone) == before


@pytest.mark.parametrize("command", [("ls",), ("show", "zero")])
def test_manifest_symlinked_to_dev_zero_from_a_clone(
    voice_repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    manifests = voice_repo / "manifests"
    manifests.mkdir(exist_ok=True)
    (manifests / "zero.json").symlink_to("/dev/zero")
    clone = _commit_and_clone(voice_repo, tmp_path)
    assert (clone / "manifests" / "zero.json").is_symlink()
    before = snapshot(clone)
    proc = run_bounded(*command, cwd=clone)
    assert_refused(proc, "zero.json", "not a regular file")
    assert snapshot(clone) == before


def test_render_a_1_mb_line_from_a_clone(voice_repo: Path, tmp_path: Path) -> None:
    (voice_repo / "episode.txt").write_text("alpha: " + "la " * 350_000 + "\n")
    clone = _commit_and_clone(voice_repo, tmp_path)
    before = snapshot(clone)
    proc = run_bounded("render", "episode.txt", cwd=clone)
    assert_refused(proc, "episode.txt:1:", "line is 1050007 characters, limit 10000")
    assert snapshot(clone) == before
