"""F9: a temporary left by a kill is invisible to git and gone after the next run."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.cli import run_cli, run_process
from tests.support.helpers import RecordingFactory, git


def _untracked(root: Path) -> str:
    return git(root, "status", "--porcelain", "--untracked-files=all")


def test_killed_writes_leave_nothing_for_git_and_the_next_run_cleans_up(
    voice_repo: Path, recording: RecordingFactory
) -> None:
    rec = recording("alpha.wav", seconds=4.0)
    assert run_cli("add", rec, "--text", "Alpha.").returncode == 0
    (voice_repo / "ep.txt").write_text("alpha: Hello there.\nalpha: Again.\n")
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "alpha")

    def killed(*args: str, point: str) -> None:
        proc = run_process(*args, env={"REFMGR_FAILPOINT": f"after-temp:{point}"})
        assert proc.returncode == -signal.SIGKILL, proc.stderr

    # The render lock's temporary, in renders/.
    killed("render", "ep.txt", point="ep.lock.json")
    assert list((voice_repo / "renders").glob(".ep.lock.json.*.tmp"))
    assert _untracked(voice_repo) == ""
    assert run_cli("render", "ep.txt").returncode == 0
    assert not list((voice_repo / "renders").glob(".*.tmp"))
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "rendered")

    # The journal's temporary, in .refmgr/.
    beta = recording("beta.wav", seconds=4.0)
    killed("add", str(beta), "--text", "Beta.", point="journal.json")
    assert list((voice_repo / ".refmgr").glob(".journal.json.*.tmp"))
    assert _untracked(voice_repo) == ""
    assert run_cli("recover").returncode == 0
    assert not list((voice_repo / ".refmgr").glob("*.tmp"))
    assert not list((voice_repo / "refs").glob(".*")) and not list(
        (voice_repo / "manifests").glob(".*")
    )

    # A mix's temporary, beside refmgr.toml.
    killed("render", "mix", "ep.txt", "-o", "mix.wav", point="mix.wav")
    assert list(voice_repo.glob(".mix.wav.*.tmp"))
    assert _untracked(voice_repo) == ""
    assert run_cli("render", "mix", "ep.txt", "-o", "mix.wav").returncode == 0
    assert not list(voice_repo.glob(".*.tmp"))
