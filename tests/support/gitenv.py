"""Running git, pre-commit and refmgr in test repositories without touching the real HOME."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the environment that has refmgr and pre-commit


def git_env(home: Path) -> dict[str, str]:
    """An environment for git and hooks that cannot touch the real HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PRE_COMMIT")) and k not in ("PYTHONPATH",)
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        REFMGR_HOME=str(home / "refmgr-state"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="refmgr tests",
        GIT_AUTHOR_EMAIL="tests@refmgr.invalid",
        GIT_COMMITTER_NAME="refmgr tests",
        GIT_COMMITTER_EMAIL="tests@refmgr.invalid",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PRE_COMMIT_HOME=str(home / "pre-commit"),
    )
    return env


def template_git(root: Path, *args: str) -> None:
    """git in a session-scoped template repository, made before the per-test isolated HOME
    exists: the template's parent folder stands in for HOME."""
    subprocess.run(
        ["git", *args], cwd=root, env=git_env(root.parent), check=True, capture_output=True
    )


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def must(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, f"{proc.args}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def head(root: Path, env: dict[str, str]) -> str:
    return run(["git", "rev-parse", "HEAD"], root, env).stdout.strip()


def commit(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Stage everything and commit, through whatever hook is installed."""
    must(run(["git", "add", "-A"], root, env))
    return run(["git", "commit", "-m", "change"], root, env)


def commit_a_new_reference(
    root: Path, env: dict[str, str], recording: Path, commit_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """refmgr add a real recording, then commit it through the installed hook: must pass."""
    must(
        run([sys.executable, "-m", "refmgr", "add", str(recording), "--text", "Bravo."], root, env)
    )
    before = head(root, env)
    proc = commit(root, commit_env or env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert head(root, env) != before
    return proc


def without_refmgr_on_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this environment's bin directory (its refmgr) taken off PATH."""
    path = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != BIN)
    assert shutil.which("refmgr", path=path) is None, "another refmgr is on PATH"
    return {**env, "PATH": path}


def make_venv(directory: Path, *, with_refmgr: bool) -> Path:
    """A real, throwaway virtual environment (no pip); with ``with_refmgr`` it imports this
    refmgr and its dependencies through a .pth file. Returns its python, which a test can
    then remove (``make clean``) or leave without refmgr (a venv recreated, not yet filled)."""
    must(run([sys.executable, "-m", "venv", "--without-pip", str(directory)], directory.parent))
    python = directory / "bin" / "python"
    if with_refmgr:
        purelib = run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            directory,
        )
        ours = [str(PROJECT), *(p for p in sys.path if p.endswith("site-packages"))]
        (Path(must(purelib).strip()) / "refmgr-tests.pth").write_text("\n".join(ours) + "\n")
    return python
