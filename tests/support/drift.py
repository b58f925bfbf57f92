"""Fixtures of the drift report tests: a voice repository rendered twice with the draft engine.

HEAD holds the first render's lock; the working tree the second, after three changes:
alpha's reference re-added from another flite voice (a low voice replaced by a high one:
the draft engine speaks it in another register, a different speaker to the encoder), one
of beta's lines given new text, another a seed of its own. The first render's outputs are
in .refmgr/cache/outputs (the runner kept them when the second replaced them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.gitenv import template_git as _git
from tests.support.quality import VOICES_DIR, require_qa, transcript

SCRIPT = """\
[a1] alpha: The lamp is lit and the sea is calm tonight.
[b1] beta: Did you see the ship near the rocks?
[a2] alpha: Only its lights, far to the north.
[b2] beta: Then we wait until morning.
[a3] alpha: Good night, and sleep well.
"""
CHANGED = {"b1": "text: ", "b2": "seed: 0 -> 3"}  # the start of what render compare says
NEW_TEXT = "Did you hear the bell across the water?"


def add(root: Path, name: str, clip: str) -> None:
    from refmgr.commands.add import add_references
    from refmgr.project import open_project

    add_references(
        open_project(root),
        [VOICES_DIR / f"{clip}.flac"],
        name=name,
        text=transcript(clip),
        language="en",
        force=True,
        quality=False,
    )


def render(root: Path) -> None:
    from refmgr.commands.render import RenderOptions, render_script
    from refmgr.project import open_project

    result = render_script(open_project(root), root / "ep.txt", options=RenderOptions(score=True))
    assert result.ok, result.run.failures


@pytest.fixture(scope="session")
def drift_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_qa()  # the renders are scored (level, silence), and compare measures speakers
    from refmgr.commands.init import init_repository

    root = tmp_path_factory.mktemp("drift") / "voices"
    init_repository(root)
    add(root, "alpha", "kal_a")  # a low voice
    add(root, "beta", "slt_a")  # a high one
    (root / "ep.txt").write_text(SCRIPT)
    render(root)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first render")
    add(root, "alpha", "slt_b")  # alpha re-added from the high voice: its speaker changes
    script = SCRIPT.replace("Did you see the ship near the rocks?", NEW_TEXT)
    (root / "ep.txt").write_text(script.replace("[b2] beta:", "[b2] beta {seed=3}:"))
    render(root)
    return root


@pytest.fixture
def drift_repo(drift_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the twice-rendered repository (HEAD: the first lock); the cwd."""
    root = tmp_path / "voices"
    shutil.copytree(drift_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def kept(root: Path) -> Path:
    return root / ".refmgr" / "cache" / "outputs"
