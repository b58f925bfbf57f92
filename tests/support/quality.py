"""Render tests that score: a voice repository of flite voices, and a playback engine.

The draft engine cannot stand in for a clone (every eSpeak voice sounds alike to a speaker
encoder), so the tests that need a line in a *known* voice, or in a known bad state, render
with ``playback``: an engine that returns the audio a test gives it for each line text,
real recordings of the committed flite fixture voices, made silent, clipped or stretched
as the test needs. The scorers, the gate, the lock and the runner are all the real ones.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from refmgr.backends import registry
from refmgr.backends.base import EngineSpec, Synthesis, VoiceReference
from refmgr.params import SynthesisParams
from refmgr.quality.available import missing_modules
from tests.support.gitenv import template_git as _git

VOICES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "voices"
CAST = ("slt", "kal", "awb")  # two low voices and a high one: cast identification has work

Audio = npt.NDArray[np.float32]


def require_qa() -> None:
    """Skip without refmgr[qa]; fail instead where make test promises it."""
    missing = missing_modules()
    if not missing:
        return
    if os.environ.get("REFMGR_REQUIRE_QA") == "1":
        pytest.fail(f"{', '.join(missing)} not installed but REFMGR_REQUIRE_QA=1 (make test)")
    pytest.skip(f"refmgr[qa] is not installed (missing {', '.join(missing)})")


def clip(name: str) -> tuple[Audio, int]:
    audio, rate = sf.read(VOICES_DIR / f"{name}.flac", dtype="float32")
    return audio, int(rate)


def transcript(name: str) -> str:
    return (VOICES_DIR / f"{name}.lab").read_text().strip()


@pytest.fixture(scope="session")
def flite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed voice repository of the flite voices in CAST, each added from both of its
    fixture sentences with the quality measures (speaker embedding, speaking rate)."""
    require_qa()
    from refmgr.commands.add import add_references
    from refmgr.commands.init import init_repository
    from refmgr.project import open_project

    base = tmp_path_factory.mktemp("flite")
    root = base / "voices"
    init_repository(root)
    project = open_project(root)
    for voice in CAST:
        a, rate = clip(f"{voice}_a")
        b, _ = clip(f"{voice}_b")
        wav = base / f"{voice}.wav"
        sf.write(wav, np.concatenate([a, np.zeros(rate // 4, np.float32), b]), rate)
        text = f"{transcript(f'{voice}_a')} {transcript(f'{voice}_b')}"
        add_references(project, [wav], text=text, language="en", quality=True)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "flite voices")
    return root


@pytest.fixture
def flite_repo(flite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the flite repository; the cwd; renders are scored (REFMGR_QUALITY)."""
    monkeypatch.setenv("REFMGR_QUALITY", "auto")  # tests/conftest.py turns it off
    root = tmp_path / "voices"
    shutil.copytree(flite_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


Table = dict[tuple[str, str], tuple[Audio, int]]  # (reference, line text) -> audio, rate


class PlaybackEngine:
    """Speaks each (reference, line text) with the audio ``lines`` maps it to (the test's)."""

    lines: Table = {}  # noqa: RUF012  (a test's table, set per test)
    calls = 0

    def __init__(self, spec: EngineSpec, **_: Any) -> None:
        self.spec = spec

    def pins(self) -> dict[str, Any]:
        return {"playback": 1}

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        type(self).calls += 1
        audio, rate = self.lines[reference.name, text]
        return Synthesis(audio=np.asarray(audio, np.float32), sample_rate=rate)

    def close(self) -> None:
        pass


@pytest.fixture
def playback(monkeypatch: pytest.MonkeyPatch) -> Iterator[Table]:
    """Register the ``playback`` engine (a clone, not a draft) and return its table."""
    spec = dataclasses.replace(
        registry.ENGINES["draft"],
        id="playback",
        loader=f"{__name__}:PlaybackEngine",
        draft=False,
        settings_key=None,
    )
    monkeypatch.setitem(registry.ENGINES, "playback", spec)
    table: Table = {}
    monkeypatch.setattr(PlaybackEngine, "lines", table)
    monkeypatch.setattr(PlaybackEngine, "calls", 0)
    yield table


def set_limits(root: Path, **limits: float | int) -> None:
    """Change [quality.render] values in refmgr.toml."""
    path = root / "refmgr.toml"
    text = path.read_text()
    for name, value in limits.items():
        lines = [
            f"{name} = {value!r}" if line.startswith(f"{name} = ") else line
            for line in text.splitlines()
        ]
        assert lines != text.splitlines(), name
        text = "\n".join(lines) + "\n"
    path.write_text(text)


class Counter:
    """Counts the calls of a method while calling it: the real one does the work."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> None:
        self.calls = 0
        original: Callable[..., Any] = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
