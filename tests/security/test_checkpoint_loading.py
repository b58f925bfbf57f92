"""A voice repository never chooses which checkpoint (a torch pickle) gets loaded.

Locations come from the user: the command line, $REFMGR_CHECKPOINT_<NAME>, the per-user
checkpoints.toml, or a directory inside the repository that git tracks nothing of (the
user's own git-ignored download). A clone that commits a checkpoint, with pins matching
it in refmgr.toml, or points `path` outside the repository, is refused before a file of it
is opened. And a pickle payload, where the user did choose the file, is never executed.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from refmgr.backends.registry import FISH_S1_CHECKPOINT
from refmgr.checkpoints import RunOptions, open_checkpoint
from refmgr.commands.model import pin_checkpoint
from refmgr.errors import BackendError
from refmgr.project import open_project
from tests.fish.conftest import (  # noqa: F401  (fixtures)
    TinyCheckpoint,
    fish_stack,
    s1_checkpoint,
    s1_repo,
    tiny_env,
)
from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, git, one_line_error, snapshot


def fake_checkpoint(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in FISH_S1_CHECKPOINT.files:
        (directory / name).write_bytes(name.encode() * 100)
    return directory


def commit_and_clone(origin: Path, tmp_path: Path) -> Path:
    git(origin, "add", "-A", "-f")
    git(origin, "commit", "-q", "-m", "a checkpoint the repository chose")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def refused(clone: Path, *needles: str) -> None:
    with pytest.raises(BackendError) as caught:
        open_checkpoint(open_project(clone), FISH_S1_CHECKPOINT, "codec", RunOptions())
    assert all(n in str(caught.value) for n in needles), str(caught.value)


def forget_user_locations() -> None:
    """Only the repository's own say remains: no per-user checkpoints.toml."""
    (Path(os.environ["XDG_CONFIG_HOME"]) / "refmgr" / "checkpoints.toml").unlink()


@pytest.fixture(autouse=True)
def no_user_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFMGR_CHECKPOINT_FISH_S1", raising=False)


def test_committed_checkpoint_at_the_default_place_is_refused(
    voice_repo: Path, tmp_path: Path
) -> None:
    fake_checkpoint(voice_repo / FISH_S1_CHECKPOINT.default_dir)
    # Pins matching the committed files: the hashes alone prove nothing about who chose them.
    pin_checkpoint(open_project(voice_repo), "fish-s1", voice_repo / FISH_S1_CHECKPOINT.default_dir)
    clone = commit_and_clone(voice_repo, tmp_path)
    refused(clone, "committed to the repository", "is tracked by git")


def test_committed_checkpoint_named_by_refmgr_toml_is_refused(
    voice_repo: Path, tmp_path: Path
) -> None:
    fake_checkpoint(voice_repo / "weights")
    pin_checkpoint(open_project(voice_repo), "fish-s1", Path("weights"))
    assert 'path = "weights"' in (voice_repo / "refmgr.toml").read_text()
    clone = commit_and_clone(voice_repo, tmp_path)
    refused(clone, "weights", "committed to the repository")


def test_committed_symlink_to_a_directory_elsewhere_is_refused(
    voice_repo: Path, tmp_path: Path
) -> None:
    elsewhere = fake_checkpoint(tmp_path / "shared" / "openaudio-s1-mini")
    (voice_repo / "checkpoints").mkdir()
    (voice_repo / FISH_S1_CHECKPOINT.default_dir).symlink_to(elsewhere)
    pin_checkpoint(open_project(voice_repo), "fish-s1", elsewhere)
    forget_user_locations()
    clone = commit_and_clone(voice_repo, tmp_path)
    refused(clone, "leads outside the repository")


def test_path_leading_out_of_the_repository_is_refused(voice_repo: Path, tmp_path: Path) -> None:
    fake_checkpoint(tmp_path / "other-clone" / "weights")
    pin_checkpoint(open_project(voice_repo), "fish-s1", tmp_path / "other-clone" / "weights")
    config = voice_repo / "refmgr.toml"
    config.write_text(config.read_text() + '\n[models.fish-s1]\npath = "../other-clone/weights"\n')
    forget_user_locations()
    refused(voice_repo, "leads outside the repository")


def test_the_users_own_download_inside_the_repository_is_used(voice_repo: Path) -> None:
    (voice_repo / ".gitignore").write_text("/checkpoints/\n")
    directory = fake_checkpoint(voice_repo / FISH_S1_CHECKPOINT.default_dir)
    pin_checkpoint(open_project(voice_repo), "fish-s1", directory)
    checkpoint = open_checkpoint(
        open_project(voice_repo), FISH_S1_CHECKPOINT, "codec", RunOptions()
    )
    assert checkpoint.directory == directory and not checkpoint.unpinned


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["codec.pth", "model.pth"])
def test_a_pickle_payload_in_a_checkpoint_never_runs(
    s1_repo: Path,  # noqa: F811  (the fixture imported above)
    s1_checkpoint: TinyCheckpoint,  # noqa: F811
    recording: RecordingFactory,
    tmp_path: Path,
    name: str,
) -> None:
    """Even in a checkpoint the user chose: upstream loads with weights_only=True."""
    copy = tmp_path / "copy"
    shutil.copytree(s1_checkpoint.directory, copy)
    marker = tmp_path / "pwned"
    with open(copy / name, "wb") as f:
        pickle.dump({"state_dict": _Payload(marker)}, f, protocol=2)
    rec = recording("beta.wav", seconds=3.0, text="Beta.")
    before = snapshot(s1_repo)
    env = {"REFMGR_CHECKPOINT_FISH_S1": str(copy), **s1_checkpoint.env}
    if name == "codec.pth":
        args = ["add", str(rec), "--codec", "fish-s1", "--text", "Beta.", "--allow-unpinned"]
    else:
        args = ["say", "alpha", "Hi.", "-o", str(tmp_path / "out.wav"), "--allow-unpinned"]
        assert (
            run_cli(
                "add",
                rec,
                "--name",
                "alpha",
                "--codec",
                "fish-s1",
                "--text",
                "Beta.",
                env={**s1_checkpoint.env},
            ).returncode
            == 0
        )
        before = snapshot(s1_repo)
    proc = run_cli(*args, env=env)
    assert proc.returncode == 1, proc.stderr
    assert one_line_error(proc.stderr, name, "cannot load this checkpoint file"), proc.stderr
    assert not marker.exists()
    assert snapshot(s1_repo) == before
