"""Fixtures: a voice repository with two committed references (alpha: a low voice, beta: a
high one) and a small script, built once per session and copied for each test.

Used by the conftest.py of the test folders that render (``from tests.support.cast import ...``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.gitenv import template_git as _git
from tests.support.helpers import make_recording

SCRIPT = """\
# A short scene.
alpha: The lamp is lit and the sea is calm tonight.
[ask] beta: Did you see the ship near the rocks?
alpha {seed=7}: Only its lights, far to the north.
beta: Then we wait until morning.
[end] alpha: Good night.
"""


@pytest.fixture(scope="session")
def cast_template(tmp_path_factory: pytest.TempPathFactory, recordings_cache: Path) -> Path:
    from refmgr.commands.add import add_references
    from refmgr.commands.init import init_repository
    from refmgr.project import open_project

    base = tmp_path_factory.getbasetemp() / "cast"
    root = base / "voices"
    if root.is_dir():  # already built for another test folder in this session
        return root
    base.mkdir()
    init_repository(root)
    project = open_project(root)
    for name, voice in (("alpha", "en-us"), ("beta", "en-us+f4")):
        wav = make_recording(base / f"{name}.wav", voice=voice, cache=recordings_cache)
        add_references(
            project,
            [wav],
            text="The quick brown fox jumps over the lazy dog while the band plays a slow "
            "waltz under the old bridge, and everyone on the river bank stops to listen.",
            language="en",
        )
    (root / "ep.txt").write_text(SCRIPT)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "two voices")
    return root


@pytest.fixture
def cast_repo(cast_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the two-voice repository (with its git history); the cwd."""
    root = tmp_path / "voices"
    shutil.copytree(cast_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root
