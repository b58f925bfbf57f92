"""A teammate's fresh clone: refmgr's local state never shows up in git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, git


def test_state_dir_stays_out_of_git_in_a_fresh_clone(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "empty voice repository")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(voice_repo), str(clone)], check=True)
    assert not (clone / ".refmgr").exists()
    assert not (clone / "refs").exists()  # git keeps no empty directory
    for command in (["validate"], ["status"], ["ls"]):
        proc = run_cli(*command, cwd=clone)
        assert proc.returncode == 0, (command, proc.stderr)
    rec = recording("alpha.wav", seconds=4.0)
    assert run_cli("add", rec, "--text", "Alpha.", cwd=clone).returncode == 0
    (clone / "ep.txt").write_text("alpha: Hello there.\n")
    assert run_cli("render", "ep.txt", cwd=clone).returncode == 0
    assert (clone / ".refmgr").is_dir()
    status = git(clone, "status", "--porcelain", "--untracked-files=all").split()
    assert not [path for path in status if ".refmgr" in path], status
    assert "refs/alpha.npy" in status and "manifests/alpha.json" in status
