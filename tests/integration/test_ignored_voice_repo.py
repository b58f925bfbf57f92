"""A voice repository in a folder that another checkout's git ignores (its build/, as
`make demo` used to make one): refmgr init gives it a git repository of its own instead of
writing into the enclosing one, and refmgr status says when git ignores the voice files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.gitenv import PROJECT, must, run

pytest_plugins = ["tests.support.voice_fixtures"]


def refmgr(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "refmgr", *args], root, env)


def checkout(tmp_path: Path, env: dict[str, str]) -> Path:
    """A git repository with a committed .gitignore that ignores build/."""
    top = tmp_path / "checkout"
    top.mkdir()
    must(run(["git", "init", "-q"], top, env))
    (top / ".gitignore").write_text("/build/\n")
    must(run(["git", "add", "-A"], top, env))
    must(run(["git", "commit", "-qm", "checkout"], top, env))
    return top


def git_state(top: Path, env: dict[str, str]) -> tuple[bytes, list[str], str]:
    hooks = sorted(p.name for p in (top / ".git" / "hooks").iterdir())
    porcelain = must(run(["git", "status", "--porcelain", "--untracked-files=all"], top, env))
    return (top / ".git" / "config").read_bytes(), hooks, porcelain


def test_init_gives_an_ignored_folder_a_git_repository_of_its_own(
    tmp_path: Path, env: dict[str, str]
) -> None:
    top = checkout(tmp_path, env)
    before = git_state(top, env)
    proc = must(refmgr(top, env, "init", "build/voices"))
    assert "initialized git repository in build/voices" in proc
    assert ".gitignore:1: /build/" in proc  # says why
    voices = top / "build" / "voices"
    assert (voices / ".git").is_dir()
    assert git_state(top, env) == before  # the enclosing checkout is untouched
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, voices / rel)
    status = json.loads(must(refmgr(voices, env, "status", "--json")))
    assert status["warnings"] == []
    assert [e["state"] for e in status["entries"]] == ["new"]


def test_init_no_git_in_an_ignored_folder_writes_nothing_into_git(
    tmp_path: Path, env: dict[str, str]
) -> None:
    top = checkout(tmp_path, env)
    before = git_state(top, env)
    proc = refmgr(top, env, "init", "--no-git", "build/voices")
    assert proc.returncode == 0
    assert "ignores" in proc.stderr and "git init" in proc.stderr
    assert not (top / "build" / "voices" / ".git").exists()
    assert git_state(top, env) == before


def test_status_warns_when_git_ignores_the_voice_files(tmp_path: Path, env: dict[str, str]) -> None:
    top = checkout(tmp_path, env)
    voices = top / "build" / "voices"
    must(refmgr(top, env, "init", "--no-git", str(voices)))
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, voices / rel)
    text = must(refmgr(voices, env, "status"))
    assert "nothing to commit" not in text
    assert "git ignores refmgr.toml, refs/alpha.npy, manifests/alpha.json" in text
    assert "git init" in text
    data = json.loads(must(refmgr(voices, env, "status", "--json")))
    assert [w["state"] for w in data["warnings"]] == ["ignored"]
    # Only some files ignored (a pattern of the voice repository's own .gitignore): named.
    must(run(["git", "init", "-q"], voices, env))
    with (voices / ".gitignore").open("a") as f:
        f.write("*.npy\n")
    data = json.loads(must(refmgr(voices, env, "status", "--json")))
    (ignored,) = [w for w in data["warnings"] if w["state"] == "ignored"]
    assert "git ignores refs/alpha.npy (.gitignore:" in ignored["detail"]


def test_a_tracked_folder_stays_the_enclosing_checkouts(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """An ignore rule over a folder whose files git tracks anyway (added with --force) does
    not make it a repository of its own: the enclosing checkout commits it."""
    top = checkout(tmp_path, env)
    (top / "build" / "voices").mkdir(parents=True)
    (top / "build" / "voices" / "README").write_text("voices\n")
    must(run(["git", "add", "--force", "build/voices/README"], top, env))
    proc = must(refmgr(top, env, "init", "build/voices"))
    assert "initialized git repository" not in proc
    assert not (top / "build" / "voices" / ".git").exists()
