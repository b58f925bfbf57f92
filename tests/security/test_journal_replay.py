"""F1: a journal that comes with a clone is never replayed (issue: untrusted repositories).

The attack: a repository ships .refmgr/journal.json (with `git add -f`, or behind a
committed `.refmgr` symlink) naming files outside refs/ and manifests/. Every command is
run in a real clone; nothing outside the repository changes, no git hook appears, and the
commands that would replay the journal refuse with one line naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from refmgr.project import open_project
from refmgr.store import _sign
from tests.support.cli import run_cli, run_process
from tests.support.helpers import RecordingFactory, git, one_line_error

ATTACK_OPS = [
    {"op": "unlink", "path": "../victim.txt"},
    {"op": "rename", "src": "notes.txt", "dst": ".git/hooks/pre-commit"},
    {"op": "unlink", "path": "manifests/alpha.json"},
]
READERS = [["ls"], ["show", "alpha"], ["status"], ["validate"], ["render", "status", "ep.txt"]]
WRITERS = [["recover"], ["rm", "alpha"], ["render", "ep.txt"], ["pin", "codec2-3200"]]


def _origin(voice_repo: Path, recording: RecordingFactory) -> Path:
    rec = recording("alpha.wav", seconds=4.0)
    assert run_cli("add", rec, "--text", "Alpha.").returncode == 0
    (voice_repo / "ep.txt").write_text("alpha: Hello there.\n")
    (voice_repo / "notes.txt").write_text(
        '#!/bin/sh\ntouch "$(git rev-parse --show-toplevel)/../pwned"\n'
    )
    os.chmod(voice_repo / "notes.txt", 0o755)
    return voice_repo


def _clone(origin: Path, tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    (tmp_path / "victim.txt").write_text("keep me")
    return clone


def _assert_untouched(clone: Path, tmp_path: Path) -> None:
    assert (tmp_path / "victim.txt").read_text() == "keep me"
    assert not (clone / ".git" / "hooks" / "pre-commit").exists()
    assert (clone / "notes.txt").exists()
    assert (clone / "manifests" / "alpha.json").exists()
    git(clone, "commit", "-q", "--allow-empty", "-m", "a commit runs no planted hook")
    assert not (tmp_path / "pwned").exists()


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts}


def _check_commands(clone: Path, tmp_path: Path, *needles: str) -> None:
    for command in READERS:
        proc = run_cli(*command, cwd=clone)
        assert proc.returncode in (0, 1), (command, proc.stderr)
        assert "Traceback" not in proc.stderr
        _assert_untouched(clone, tmp_path)
    for command in WRITERS:
        proc = run_cli(*command, cwd=clone)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert one_line_error(proc.stderr, *needles), proc.stderr
        _assert_untouched(clone, tmp_path)


@pytest.mark.parametrize("mac", [None, "0" * 64])
def test_force_added_journal_is_never_replayed(
    mac: str | None, voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    origin = _origin(voice_repo, recording)
    journal = {"ops": ATTACK_OPS} if mac is None else {"ops": ATTACK_OPS, "mac": mac}
    (origin / ".refmgr" / "journal.json").write_text(json.dumps(journal))
    git(origin, "add", "-A")
    git(origin, "add", "-f", ".refmgr/journal.json")
    git(origin, "commit", "-qm", "voices")
    clone = _clone(origin, tmp_path)
    assert (clone / ".refmgr" / "journal.json").is_file()
    _check_commands(clone, tmp_path, "journal.json", "not applied", "did not write")
    status = run_cli("status", cwd=clone)
    assert "refmgr recover" in status.stdout


def test_journal_behind_a_symlinked_state_dir_is_never_replayed(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    origin = _origin(voice_repo, recording)
    shutil.rmtree(origin / ".refmgr")
    (origin / "state").mkdir()
    (origin / "state" / "journal.json").write_text(json.dumps({"ops": ATTACK_OPS}))
    (origin / ".refmgr").symlink_to("state")
    git(origin, "add", "-A")  # /.refmgr/ in .gitignore matches a directory, not this link
    git(origin, "commit", "-qm", "voices")
    clone = _clone(origin, tmp_path)
    assert (clone / ".refmgr").is_symlink()
    _check_commands(clone, tmp_path, ".refmgr", "is a symlink")
    # Nothing was written through the link either (no lock file, no key).
    assert sorted(p.name for p in (clone / "state").iterdir()) == ["journal.json"]


def test_a_signed_journal_naming_other_paths_is_refused(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    """Even a journal signed with this user's own key is checked path by path: a bug or a
    reused key can never make recovery touch anything but reference files."""
    origin = _origin(voice_repo, recording)
    project = open_project(origin)
    outside = tmp_path / "victim.txt"
    outside.write_text("keep me")
    for ops in (
        [{"op": "unlink", "path": "../victim.txt"}],
        [{"op": "unlink", "path": str(outside)}],
        [{"op": "rename", "src": "notes.txt", "dst": ".git/hooks/pre-commit"}],
        [{"op": "rename", "src": "notes.txt", "dst": "manifests/alpha.json"}],
        [{"op": "unlink", "path": "ep.txt"}],
        [{"op": "unlink", "path": "refs/../ep.txt"}],
        [{"op": "chmod", "path": "refs/alpha.npy"}],
    ):
        journal = origin / ".refmgr" / "journal.json"
        journal.write_text(json.dumps({"ops": ops, "mac": _sign(project, ops)}))
        before = _files(origin)
        proc = run_cli("recover")
        assert proc.returncode == 1, (ops, proc.stderr)
        assert one_line_error(proc.stderr, "journal.json", "journal names"), proc.stderr
        assert _files(origin) == before and outside.read_text() == "keep me"
        assert not (origin / ".git" / "hooks" / "pre-commit").exists()
        journal.unlink()


def test_refs_behind_a_symlink_are_not_recovered_into(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    """A signed journal whose paths look right but lead through a symlinked refs/."""
    origin = _origin(voice_repo, recording)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "alpha.npy").write_bytes(b"someone else's file")
    shutil.rmtree(origin / "refs")
    (origin / "refs").symlink_to(outside)
    project = open_project(origin)
    ops = [{"op": "unlink", "path": "refs/alpha.npy"}]
    (origin / ".refmgr" / "journal.json").write_text(
        json.dumps({"ops": ops, "mac": _sign(project, ops)})
    )
    proc = run_cli("recover")
    assert proc.returncode == 1 and one_line_error(proc.stderr, "symlink"), proc.stderr
    assert (outside / "alpha.npy").read_bytes() == b"someone else's file"


@pytest.mark.parametrize("command", [["ls"], ["show", "alpha"], ["status"], ["validate"]])
def test_reading_commands_never_recover(
    command: list[str], voice_repo: Path, recording: RecordingFactory
) -> None:
    """Opening a repository only reads: an interrupted change waits for a writing command."""
    _origin(voice_repo, recording)
    env = {"REFMGR_FAILPOINT": "after-journal"}
    rec = recording("beta.wav", seconds=4.0)
    assert run_process("add", rec, "--text", "Beta.", env=env).returncode < 0  # SIGKILLed
    journal = voice_repo / ".refmgr" / "journal.json"
    before = journal.read_bytes()
    run_cli(*command)
    assert journal.read_bytes() == before
    assert not (voice_repo / "manifests" / "beta.json").exists()
    assert run_cli("recover").stdout.strip() == "finished an interrupted change"
    assert (voice_repo / "manifests" / "beta.json").exists() and not journal.exists()
