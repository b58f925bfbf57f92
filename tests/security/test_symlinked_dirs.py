"""F3: writes and deletes never follow a committed symlink out of the repository, and the
configured paths cannot point into .git or refmgr's own state."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, git, one_line_error


def _outside(tmp_path: Path) -> dict[str, bytes]:
    return {
        p.relative_to(tmp_path / "outside").as_posix(): p.read_bytes()
        for p in sorted((tmp_path / "outside").rglob("*"))
        if p.is_file()
    }


def _clone_with_link(origin: Path, tmp_path: Path, link: str) -> Path:
    """Commit ``link`` in ``origin`` as a symlink to ../outside (which, seen from the
    clone, is tmp_path/outside), then clone it."""
    target = origin / link
    if target.is_dir():
        shutil.rmtree(target)
    target.symlink_to(Path("../" * (len(Path(link).parts) - 1)) / ".." / "outside")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", f"{link} is a link")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    assert (clone / link).is_symlink()
    return clone


@pytest.fixture
def origin(voice_repo: Path, recording: RecordingFactory, tmp_path: Path) -> Path:
    rec = recording("alpha.wav", seconds=4.0)
    assert run_cli("add", rec, "--text", "Alpha.").returncode == 0
    (voice_repo / "ep.txt").write_text("alpha: Hello there.\n")
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "alpha")
    outside = tmp_path / "outside"
    (outside / "ep").mkdir(parents=True)
    (outside / "ep" / ".0001-alpha.wav.abcd1234.tmp").write_bytes(b"not refmgr's")
    (outside / "ep" / "0009-old.wav").write_bytes(b"not refmgr's either")
    (outside / "alpha.npy").write_bytes(b"someone's file")
    (outside / "alpha.json").write_bytes(b"someone's file")
    return voice_repo


@pytest.mark.parametrize(
    ("link", "command"),
    [
        ("refs", ["add", "{rec}", "--name", "beta", "--text", "Beta."]),
        ("manifests", ["add", "{rec}", "--name", "beta", "--text", "Beta."]),
        ("refs", ["rm", "alpha"]),
        ("manifests", ["rm", "alpha"]),
        ("renders", ["render", "ep.txt"]),
        ("renders/ep", ["render", "ep.txt"]),
    ],
)
def test_no_write_or_delete_through_a_committed_symlink(
    link: str,
    command: list[str],
    origin: Path,
    tmp_path: Path,
    recording: RecordingFactory,
) -> None:
    if link == "renders/ep":
        (origin / "renders").mkdir()
    clone = _clone_with_link(origin, tmp_path, link)
    before = _outside(tmp_path)
    rec = recording("beta.wav", seconds=4.0)
    proc = run_cli(*[part.format(rec=rec) for part in command], cwd=clone)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert one_line_error(proc.stderr, link, "symlink"), proc.stderr
    assert _outside(tmp_path) == before


@pytest.mark.parametrize(
    "value", [".git", ".git/refmgr", "voices/.git/x", ".GIT", ".refmgr", ".refmgr/renders"]
)
@pytest.mark.parametrize("key", ["refs", "manifests", "renders"])
def test_configured_paths_never_lead_into_git_or_state(key: str, value: str, origin: Path) -> None:
    config = origin / "refmgr.toml"
    text, n = re.subn(rf"(?m)^{key} = .*$", f'{key} = "{value}"', config.read_text())
    assert n == 1
    config.write_text(text)
    hooks = sorted(os.listdir(origin / ".git"))
    for command in (["validate"], ["ls"], ["render", "ep.txt"], ["status"]):
        proc = run_cli(*command)
        assert proc.returncode == 1, (command, proc.stderr)
        output = proc.stderr or proc.stdout  # validate reports findings on stdout
        assert one_line_error(output, "refmgr.toml", f"paths.{key}", ".git"), output
    assert sorted(os.listdir(origin / ".git")) == hooks
