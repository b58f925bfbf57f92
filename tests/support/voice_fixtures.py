"""Fixtures for the validation and hook tests: real voice repositories in real git repos.

Test modules load them with ``pytest_plugins = ["tests.support.voice_fixtures"]``. A repository is
built once per session (``refmgr init``, this project's example voice, a first commit) and
copied for each test, so every test gets a fresh, real repository in well under a second.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gitenv import BIN, PROJECT, git_env, must, run


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("session-home")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return home


def _template(
    factory: pytest.TempPathFactory, home: Path, name: str, install: list[str] | None
) -> Path:
    """refmgr init, the example voice 'alpha', ``install`` (a hook), all committed."""
    root = factory.mktemp(name) / "voices"
    env = git_env(home)
    must(run([sys.executable, "-m", "refmgr", "init", str(root)], root.parent, env))
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, root / rel)
    if install:
        must(run(install, root, env))
    must(run(["git", "add", "-A"], root, env))
    must(run(["git", "commit", "-q", "--no-verify", "-m", "voices with alpha"], root, env))
    return root


@pytest.fixture(scope="session")
def repo_template(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    """A committed voice repository with 'alpha'; no hooks installed."""
    return _template(tmp_path_factory, session_home, "template", None)


@pytest.fixture(scope="session")
def framework_template(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    """Like repo_template, plus the pre-commit framework's hook (pre-commit install)."""
    return _template(
        tmp_path_factory, session_home, "framework", [str(BIN / "pre-commit"), "install"]
    )


@pytest.fixture(scope="session")
def plain_template(tmp_path_factory: pytest.TempPathFactory, session_home: Path) -> Path:
    """Like repo_template, plus refmgr's plain git hook (refmgr hooks install)."""
    install = [sys.executable, "-m", "refmgr", "hooks", "install"]
    return _template(tmp_path_factory, session_home, "plain", install)


def _copy(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "voices"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def repo(repo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of repo_template; the working directory."""
    return _copy(repo_template, tmp_path, monkeypatch)


@pytest.fixture
def framework_repo(
    framework_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    return _copy(framework_template, tmp_path, monkeypatch)


@pytest.fixture
def plain_repo(plain_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _copy(plain_template, tmp_path, monkeypatch)


@pytest.fixture
def env(session_home: Path) -> Iterator[dict[str, str]]:
    """The environment for git commands in these repositories (pre-commit's cache shared)."""
    yield git_env(session_home)
