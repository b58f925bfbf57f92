"""Shared fixtures: an isolated HOME, real voice repositories in real git repos, real audio."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.helpers import RecordingFactory, make_recording


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test can read or write the real HOME, git config or refmgr state."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REFMGR_HOME", str(home / "refmgr-state"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "refmgr tests")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "tests@refmgr.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "refmgr tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@refmgr.invalid")
    # CI turns on `render --require-committed`: tests that want it set CI themselves, so the
    # suite behaves the same on a laptop and in CI.
    monkeypatch.delenv("CI", raising=False)
    # Likewise `refmgr add` measures recordings when refmgr[qa] is installed (make test
    # installs it); tests/quality turn it on themselves.
    monkeypatch.setenv("REFMGR_QUALITY", "off")
    monkeypatch.delenv("REFMGR_FAILPOINT", raising=False)
    monkeypatch.delenv("REFMGR_DEBUG", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    yield


@pytest.fixture(scope="session")
def recordings_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recordings-cache")


@pytest.fixture
def recording(recordings_cache: Path, tmp_path: Path) -> RecordingFactory:
    """``recording("alpha.wav", text=..., seconds=...)`` writes a real speech WAV (eSpeak NG)."""

    def factory(name: str, **kwargs: object) -> Path:
        return make_recording(tmp_path / "recordings" / name, cache=recordings_cache, **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture(scope="session")
def voice_repo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``refmgr init`` once per run, under a HOME of its own (git init reads ~/.gitconfig)."""
    from refmgr.commands.init import init_repository

    home = tmp_path_factory.mktemp("template-home")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    root = tmp_path_factory.mktemp("voice-template") / "voices"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HOME", "XDG_CONFIG_HOME", "REFMGR_HOME"):
            patch.setenv(name, str(home))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        init_repository(root)
    return root


@pytest.fixture
def voice_repo(voice_repo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh voice repository (refmgr init) inside a fresh git repository; the cwd.

    A copy of one made once per run: init's git commands cost ~0.1 s a test, 200 tests."""
    root = tmp_path / "voices"
    shutil.copytree(voice_repo_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def cli() -> Callable[..., object]:
    from tests.support.cli import run_cli

    return run_cli


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("REFMGR_SKIP_SLOW") == "1":
        skip = pytest.mark.skip(reason="REFMGR_SKIP_SLOW=1")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)
