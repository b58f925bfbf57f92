"""A render stopped at any moment keeps a true lock and whole outputs, and resumes.

Real stops only: SIGKILL and SIGINT from outside, a full tmpfs, a file-size limit that
makes the kernel refuse a write half-way.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import one_line_error
from tests.support.render import (
    check_lock,
    outputs,
    render,
    rendered,
    start_render,
    wait_for_outputs,
    whole_outputs,
)

LONG = "\n".join(
    f"{'alpha' if i % 2 else 'beta'}: This is line number {i} of a long scene."
    for i in range(1, 31)
)


@pytest.mark.slow
def test_sigkill_mid_render_then_restart_completes(cast_repo: Path, tmp_path: Path) -> None:
    (cast_repo / "long.txt").write_text(LONG)
    proc = start_render(cast_repo, "long.txt")
    wait_for_outputs(cast_repo, "long", 4, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_with = {p.name for p in (cast_repo / "renders" / "long").glob("*.wav")}
    assert 4 <= len(killed_with) < 30
    if (cast_repo / "renders" / "long.lock.json").exists():
        check_lock(cast_repo, "long")  # never lists an output that is not there
    result = render(cast_repo, "long.txt")
    assert len(rendered(result)) == 30 - len(killed_with)  # finished lines were kept
    check_lock(cast_repo, "long")
    whole_outputs(cast_repo, "long")
    # ... and they are exactly what an uninterrupted render makes.
    clean = tmp_path / "clean"
    shutil.copytree(cast_repo, clean, ignore=shutil.ignore_patterns("renders"))
    render(clean, "long.txt")
    assert outputs(clean, "long") == outputs(cast_repo, "long")


def test_killed_right_after_an_output_is_written(cast_repo: Path) -> None:
    # The failpoint makes the process SIGKILL itself just after the first output lands.
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "render", "ep.txt"],
        cwd=cast_repo,
        env={**os.environ, "REFMGR_FAILPOINT": "render-after-output"},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL
    assert sorted(outputs(cast_repo)) == ["0001-alpha.wav"]
    assert check_lock(cast_repo)["entries"] == []  # written before the first line
    assert rendered(render(cast_repo)) == ["ask", "0003", "0004", "end"]


def test_leftovers_of_a_crash_are_cleaned_and_rendered_again(cast_repo: Path) -> None:
    render(cast_repo)
    folder = cast_repo / "renders" / "ep"
    good = (folder / "ask-beta.wav").read_bytes()
    (folder / "ask-beta.wav").write_bytes(good[: len(good) // 2])  # truncated by hand
    (folder / ".0001-alpha.wav.abc123.tmp").write_bytes(b"RIFF half")
    assert rendered(render(cast_repo)) == ["ask"]
    assert (folder / "ask-beta.wav").read_bytes() == good
    whole_outputs(cast_repo)


@pytest.mark.slow
def test_ctrl_c_locks_what_finished_and_exits_130(cast_repo: Path) -> None:
    (cast_repo / "long.txt").write_text(LONG)
    # Its own process group, signalled as a whole: what a terminal does on Ctrl-C.
    proc = start_render(cast_repo, "long.txt", start_new_session=True)
    wait_for_outputs(cast_repo, "long", 3, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err.decode()
    lock = check_lock(cast_repo, "long")
    whole_outputs(cast_repo, "long")
    finished = len(outputs(cast_repo, "long"))
    # The finished lines are locked; only the one whose output had just landed when the
    # signal came may be left out of the lock (it is kept anyway: it carries its key).
    assert 3 <= finished < 30 and len(lock["entries"]) >= finished - 1
    assert len(rendered(render(cast_repo, "long.txt"))) == 30 - finished


def _limit_file_size() -> None:
    # The kernel refuses writes past 40 KB (EFBIG) instead of killing us with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))


def test_write_refused_half_way_leaves_nothing_half_written(cast_repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "render", "ep.txt"],
        cwd=cast_repo,
        preexec_fn=_limit_file_size,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "renders/ep/", "cannot write", "run again to resume"), (
        proc.stderr
    )
    whole_outputs(cast_repo)  # no temporary, no partial file
    check_lock(cast_repo)
    assert rendered(render(cast_repo))  # with room again, it resumes


def _tmpfs_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || mount -t tmpfs -o size=64k tmpfs /tmp",
        ],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _tmpfs_works(), reason="needs unprivileged mount namespaces (unshare -rm)")
def test_disk_full_on_a_real_tmpfs(cast_repo: Path, tmp_path: Path) -> None:
    (cast_repo / "renders").mkdir()
    after = tmp_path / "after"
    # A 120 KB filesystem over renders/, in a private mount namespace: the render fills
    # it; what it left is copied out before the namespace (and the tmpfs) goes away.
    shell = (
        "mount -t tmpfs -o size=120k tmpfs renders && "
        f'"{sys.executable}" -m refmgr render ep.txt; rc=$?; '
        f'cp -a renders "{after}"; exit $rc'
    )
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", shell],
        cwd=cast_repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert one_line_error(proc.stderr, "cannot write (disk full): No space left on device"), (
        proc.stderr
    )
    shutil.rmtree(cast_repo / "renders")
    shutil.copytree(after, cast_repo / "renders")
    whole_outputs(cast_repo)
    if (cast_repo / "renders" / "ep.lock.json").exists():
        check_lock(cast_repo)
    kept = len(outputs(cast_repo))
    assert len(rendered(render(cast_repo))) == 5 - kept
