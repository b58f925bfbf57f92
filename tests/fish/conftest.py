"""Fixtures for the Fish Speech backends: tiny checkpoints built once per run, repos that use them.

These tests need the CPU test stack (``make test`` installs it). Without it they are
skipped, unless REFMGR_REQUIRE_FISH=1 (set by ``make test`` and CI), where a missing
stack is an error rather than a silent skip.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import fishkit


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _require(module: str) -> None:
    if _have(module):
        return
    if os.environ.get("REFMGR_REQUIRE_FISH") == "1":
        pytest.fail(f"{module} is not installed but REFMGR_REQUIRE_FISH=1 (run: make test)")
    pytest.skip(f"{module} is not installed (the Fish Speech test stack: make test)")


@dataclass(frozen=True)
class TinyCheckpoint:
    model: str
    directory: Path
    config_dir: Path  # Hydra configs the test plugin adds to fish-speech's search path

    @property
    def env(self) -> dict[str, str]:
        return fishkit.subprocess_env(self.config_dir)


@pytest.fixture(scope="session")
def fish_stack() -> Iterator[None]:
    _require("torch")
    _require("fish_speech")
    fishkit.enable_stubs()
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def s1_checkpoint(fish_stack: None, tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    base = tmp_path_factory.mktemp("fish-s1")
    checkpoint = TinyCheckpoint("fish-s1", base / "openaudio-s1-mini", base / "configs")
    os.environ[fishkit.CONFIG_DIR_ENV] = str(checkpoint.config_dir)
    fishkit.build_s1(checkpoint.directory, checkpoint.config_dir)
    return checkpoint


@pytest.fixture(scope="session")
def v15_checkpoint(fish_stack: None, tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    _require("fish_speech_lib")
    base = tmp_path_factory.mktemp("fish-1.5")
    checkpoint = TinyCheckpoint("fish-1.5", base / "fish-speech-1.5", base / "configs")
    fishkit.build_v15(checkpoint.directory)
    return checkpoint


@pytest.fixture
def tiny_env(s1_checkpoint: TinyCheckpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process and its subprocesses see the stand-ins and the tiny codec config."""
    for key, value in s1_checkpoint.env.items():
        monkeypatch.setenv(key, value)


DEVICE_TOML = f'device = "{fishkit.DEVICE}"\nprecision = "{fishkit.PRECISION}"\n'


def write_models(root: Path, text: str) -> None:
    """Append [models.*] settings to a repository's refmgr.toml."""
    config = root / "refmgr.toml"
    config.write_text(config.read_text() + "\n" + text)


@pytest.fixture
def s1_repo(voice_repo: Path, s1_checkpoint: TinyCheckpoint, tiny_env: None) -> Path:
    """A voice repository with the tiny S1 checkpoint pinned (it lives outside the repo)."""
    from refmgr.commands.model import pin_checkpoint
    from refmgr.project import open_project

    write_models(voice_repo, f'[models.fish-s1]\ncodec_config = "modded_dac_tiny"\n{DEVICE_TOML}')
    # As a team with Fish Speech voices sets it: `say` and `render` clone with fish-s1.
    config = voice_repo / "refmgr.toml"
    config.write_text(config.read_text().replace('default = "draft"', 'default = "fish-s1"', 1))
    pin_checkpoint(open_project(voice_repo), "fish-s1", s1_checkpoint.directory)
    return voice_repo


@pytest.fixture
def v15_repo(voice_repo: Path, v15_checkpoint: TinyCheckpoint, tiny_env: None) -> Path:
    from refmgr.commands.model import pin_checkpoint
    from refmgr.project import open_project

    write_models(voice_repo, f'[models."fish-1.5"]\n{DEVICE_TOML}')
    pin_checkpoint(open_project(voice_repo), "fish-1.5", v15_checkpoint.directory)
    return voice_repo
