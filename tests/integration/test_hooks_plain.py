"""refmgr's plain git hook (hooks/pre-commit), installed by refmgr hooks install, on real commits."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from refmgr.commands.hooks import MARKER
from tests.support.bad_cases import BAD_CASES, BAD_IDS, BadCase, assert_commit_refused
from tests.support.gitenv import (
    PROJECT,
    commit,
    commit_a_new_reference,
    git_env,
    make_venv,
    must,
    run,
    without_refmgr_on_path,
)
from tests.support.helpers import RecordingFactory

pytest_plugins = ["tests.support.voice_fixtures"]

FOREIGN = "#!/bin/sh\necho someone else's hook\nexit 0\n"


def refmgr(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "refmgr", *args], root, env)


def test_a_good_reference_commits(
    plain_repo: Path, env: dict[str, str], recording: RecordingFactory
) -> None:
    # The installed hook names its Python: it works without refmgr on PATH.
    rec = recording("bravo.wav", seconds=4.0)
    commit_a_new_reference(plain_repo, env, rec, without_refmgr_on_path(env))


@pytest.mark.parametrize("case", BAD_CASES, ids=BAD_IDS)
def test_a_bad_reference_is_refused(
    case: BadCase, plain_repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    assert_commit_refused(case, plain_repo, env, tmp_path)


def test_the_file_in_hooks_works_when_copied_by_hand(repo: Path, env: dict[str, str]) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    shutil.copy2(PROJECT / "hooks" / "pre-commit", hook)
    (repo / "refs" / "ghost.npy").write_bytes(b"\x93NUMPY not really")
    proc = commit(repo, env)  # refmgr comes from PATH here
    assert proc.returncode == 1
    assert "refs/ghost.npy: " in proc.stderr + proc.stdout
    proc = commit(repo, without_refmgr_on_path(env))
    assert proc.returncode == 1 and "refmgr not found" in proc.stderr


def hooks_dir(root: Path) -> Path:
    return root / ".git" / "hooks"


def test_install_never_replaces_a_foreign_hook_silently(repo: Path, env: dict[str, str]) -> None:
    hook = hooks_dir(repo) / "pre-commit"
    hook.write_text(FOREIGN)
    proc = refmgr(repo, env, "hooks", "install")
    assert proc.returncode == 1
    assert "did not write" in proc.stderr and "--force" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert hook.read_text() == FOREIGN
    proc = refmgr(repo, env, "hooks", "install", "--force")
    assert proc.returncode == 0 and "replaced" in proc.stdout
    assert MARKER in hook.read_text()
    assert (hooks_dir(repo) / "pre-commit.refmgr-saved").read_text() == FOREIGN
    assert os.access(hook, os.X_OK)
    proc = refmgr(repo, env, "hooks", "uninstall")
    assert proc.returncode == 0 and "restored" in proc.stdout
    assert hook.read_text() == FOREIGN
    assert not (hooks_dir(repo) / "pre-commit.refmgr-saved").exists()


def test_uninstall_removes_only_ours(repo: Path, env: dict[str, str]) -> None:
    hook = hooks_dir(repo) / "pre-commit"
    assert not hook.exists()
    assert "absent" in refmgr(repo, env, "hooks", "uninstall").stdout
    hook.write_text(FOREIGN)
    proc = refmgr(repo, env, "hooks", "uninstall")
    assert proc.returncode == 0 and "left" in proc.stdout
    assert hook.read_text() == FOREIGN
    hook.unlink()
    assert "installed" in refmgr(repo, env, "hooks", "install").stdout
    assert "unchanged" in refmgr(repo, env, "hooks", "install").stdout
    assert "removed" in refmgr(repo, env, "hooks", "uninstall").stdout
    assert not hook.exists()


def test_a_voice_repository_in_a_subdirectory(tmp_path: Path, session_home: Path) -> None:
    env = git_env(session_home)
    top = tmp_path / "project"
    top.mkdir()
    must(run(["git", "init", "-q"], top, env))
    voices = top / "assets" / "voices"
    must(refmgr(top, env, "init", str(voices)))
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, voices / rel)
    must(refmgr(voices, env, "hooks", "install"))
    assert "REFMGR_DIR=assets/voices" in (top / ".git" / "hooks" / "pre-commit").read_text()
    assert commit(top, env).returncode == 0
    (voices / "refs" / "alpha.npy").write_bytes(b"\x93NUMPY\x01\x00broken")
    proc = commit(top, env)
    assert proc.returncode == 1
    assert "refs/alpha.npy: " in proc.stdout + proc.stderr


def test_the_hook_outlives_the_venv_that_installed_it(tmp_path: Path, session_home: Path) -> None:
    """Installed from a voice repository in a subdirectory by a venv that then goes (make
    clean, then python -m venv again): the hook uses the refmgr on PATH, or says it has none."""
    env = git_env(session_home)
    top = tmp_path / "project"
    top.mkdir()
    must(run(["git", "init", "-q"], top, env))
    voices = top / "assets" / "voices"
    must(refmgr(top, env, "init", str(voices)))
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, voices / rel)
    venv = tmp_path / "venv"
    python = make_venv(venv, with_refmgr=True)
    must(run([str(python), "-m", "refmgr", "hooks", "install"], voices, env))
    assert commit(top, without_refmgr_on_path(env)).returncode == 0  # its own Python

    shutil.rmtree(venv)
    make_venv(venv, with_refmgr=False)  # the same path, refmgr not installed (yet)
    (voices / "refs" / "alpha.npy").write_bytes(b"\x93NUMPY\x01\x00broken")
    proc = commit(top, env)  # the refmgr on PATH checks, from the voice repository
    assert proc.returncode == 1
    assert "refs/alpha.npy: " in proc.stdout + proc.stderr
    assert "No module named" not in proc.stderr
    proc = commit(top, without_refmgr_on_path(env))
    assert proc.returncode == 1 and "No module named" not in proc.stderr
    (message,) = proc.stderr.strip().splitlines()
    assert str(python) in message and "refmgr hooks install" in message
    assert "--no-verify" in message

    shutil.rmtree(venv)  # gone altogether
    proc = commit(top, without_refmgr_on_path(env))
    assert proc.returncode == 1 and "No such file" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and str(python) in proc.stderr
