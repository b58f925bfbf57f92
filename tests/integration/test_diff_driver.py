"""git diff and git log -p on token files, through the diff driver that refmgr init sets up:
after the Python that ran init is gone (make clean, a new venv, a Python upgrade), with an
older form of the driver, and in a fresh clone, which has no driver at all."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.gitenv import make_venv, must, run, without_refmgr_on_path

pytest_plugins = ["tests.support.voice_fixtures"]

HINT = "refmgr is not installed here; run pip install refmgr && refmgr init"
NPY_MAGIC_HEX = "93 4e 55 4d 50 59"  # \x93NUMPY, as od prints it


def refmgr(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "refmgr", *args], root, env)


def commit_changed_tokens(root: Path, env: dict[str, str]) -> None:
    """A second version of refs/alpha.npy (its last code changed), committed."""
    tokens = root / "refs" / "alpha.npy"
    data = bytearray(tokens.read_bytes())
    data[-1] ^= 1
    tokens.write_bytes(bytes(data))
    must(run(["git", "commit", "-q", "--no-verify", "-am", "alpha, changed"], root, env))


def driver(root: Path, env: dict[str, str]) -> str | None:
    proc = run(["git", "config", "--local", "--get", "diff.refmgr.textconv"], root, env)
    return proc.stdout.strip() if proc.returncode == 0 else None


def warnings(root: Path, env: dict[str, str]) -> list[dict[str, str]]:
    data = json.loads(must(refmgr(root, env, "status", "--json")))
    found: list[dict[str, str]] = data["warnings"]
    return found


def test_the_driver_outlives_the_python_that_set_it_up(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    python = make_venv(venv, with_refmgr=True)
    must(run([str(python), "-m", "refmgr", "init"], repo, env))
    assert str(python) in (driver(repo, env) or "")
    commit_changed_tokens(repo, env)
    alone = without_refmgr_on_path(env)
    shown = must(run(["git", "diff", "HEAD~1"], repo, alone))
    assert "refmgr token file" in shown and HINT not in shown  # the recorded Python
    assert warnings(repo, env) == []

    shutil.rmtree(venv)  # make clean: the Python that ran init is gone
    for command in (["git", "diff", "HEAD~1"], ["git", "log", "-p"]):
        fallback = run(command, repo, alone)
        assert fallback.returncode == 0, fallback.stderr
        assert HINT in fallback.stderr  # the first line of the text may be out of the diff
        assert re.search(r"^[-+][0-9a-f]{6}( [0-9a-f]{2})+$", fallback.stdout, re.M)
        assert "refmgr token file" not in fallback.stdout
        on_path = run(command, repo, env)  # the refmgr on PATH takes over
        assert on_path.returncode == 0, on_path.stderr
        assert "refmgr token file" in on_path.stdout and HINT not in on_path.stdout
    history = must(run(["git", "log", "-p", "--", "refs/alpha.npy"], repo, alone))
    assert f"+{HINT} (the bytes of the file follow)" in history  # the commit that added it
    assert NPY_MAGIC_HEX in history

    (found,) = warnings(repo, env)
    assert found["state"] == "diff-driver-stale"
    assert str(python) in found["detail"] and "refmgr init" in found["detail"]
    text = must(refmgr(repo, env, "status"))
    assert "refmgr init" in text and "nothing to commit, no problems" not in text
    assert "updated git config diff.refmgr.textconv" in must(refmgr(repo, env, "init"))
    assert warnings(repo, env) == []
    assert "refmgr token file" in must(run(["git", "diff", "HEAD~1"], repo, alone))


def test_a_new_venv_without_refmgr_at_the_same_path(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    python = make_venv(venv, with_refmgr=True)
    must(run([str(python), "-m", "refmgr", "init"], repo, env))
    commit_changed_tokens(repo, env)
    shutil.rmtree(venv)
    make_venv(venv, with_refmgr=False)  # python -m venv .venv, refmgr not installed yet
    proc = run(["git", "diff", "HEAD~1"], repo, without_refmgr_on_path(env))
    assert proc.returncode == 0 and HINT in proc.stderr, proc.stderr
    assert "No module named" not in proc.stderr
    assert "refmgr token file" in must(run(["git", "diff", "HEAD~1"], repo, env))


def test_init_replaces_the_old_form_of_the_driver(repo: Path, env: dict[str, str]) -> None:
    old = f"{shlex.quote(sys.executable)} -m refmgr textconv --git"
    must(run(["git", "config", "diff.refmgr.textconv", old], repo, env))
    (found,) = warnings(repo, env)
    assert found["state"] == "diff-driver-stale" and "refmgr init" in found["detail"]
    assert "updated git config diff.refmgr.textconv" in must(refmgr(repo, env, "init"))
    assert driver(repo, env) not in (None, old)
    assert warnings(repo, env) == []
    assert "nothing to do" in must(refmgr(repo, env, "init"))


def test_a_fresh_clone_gets_readable_diffs_from_refmgr_init(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    commit_changed_tokens(repo, env)
    clone = tmp_path / "clone"
    must(run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env))
    assert driver(clone, env) is None  # git config is never cloned
    assert "Binary files" in must(run(["git", "diff", "HEAD~1"], clone, env))
    (found,) = warnings(clone, env)
    assert found["state"] == "diff-driver-missing" and "refmgr init" in found["detail"]

    must(refmgr(clone, env, "init"))  # what the README says to run after a clone
    assert must(run(["git", "status", "--porcelain", "--untracked-files=all"], clone, env)) == ""
    assert "refmgr token file" in must(run(["git", "diff", "HEAD~1"], clone, env))
    assert warnings(clone, env) == []
