"""Writing commands edit refmgr.toml in place: a hand-written file keeps its comments,
order and layout, and `git diff` shows only the lines the command means to change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from refmgr.backends.registry import checkpoint_layouts
from refmgr.cli import main
from refmgr.paths import user_config_dir
from tests.support.helpers import RecordingFactory, git

HAND_WRITTEN = """\
# Voices of "The Lighthouse", season 2.
schema_version = 1

[render]   # how we like our lines
gap_s = 0.8
seed = 7            # the seed the director picked

[engines]
default = "draft"

# Codecs: codec2 for drafts only.
[codecs]
allowed = ["codec2-3200"]   # fish-s1 once the GPU box is back
default = "codec2-3200"

[limits]
max_duration_s = 60.0  # the studio's rule
"""


def _diff(root: Path) -> list[str]:
    """The changed lines of refmgr.toml against the last commit, as +/- lines."""
    out = git(root, "diff", "-U0", "--", "refmgr.toml")
    return [
        line
        for line in out.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture
def hand_repo(voice_repo: Path) -> Path:
    (voice_repo / "refmgr.toml").write_text(HAND_WRITTEN)
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "hand-written settings")
    return voice_repo


def _checkpoint(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name in checkpoint_layouts()["fish-s1"].files:
        (directory / name).write_bytes(name.encode())  # model pin only hashes them
    return directory


def test_every_writing_command_changes_only_its_lines(
    hand_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    root = hand_repo
    # add: the first reference of a codec pins the codec's library version.
    assert main(["add", str(recording("alpha.wav", seconds=4.0)), "--text", "Alpha."]) == 0
    added = _diff(root)
    assert added[0] == "+[codecs.pins.codec2-3200]"
    assert added[1].startswith('+library_version = "')
    assert set(added[2:]) <= {"+"}  # at most a blank line before the next table
    git(root, "commit", "-qam", "alpha")

    # pin: only the version line.
    assert main(["pin", "codec2-3200", "--library-version", "9.9.9"]) == 0
    assert _diff(root)[-1] == '+library_version = "9.9.9"'
    assert len(_diff(root)) == 2 and _diff(root)[0].startswith("-library_version")
    git(root, "checkout", "refmgr.toml")

    # model pin, checkpoint outside the repository: the files' hashes and the codec allowed.
    outside = _checkpoint(tmp_path / "s1")
    assert main(["model", "pin", "fish-s1", str(outside)]) == 0
    changed = _diff(root)
    assert changed[:2] == [
        '-allowed = ["codec2-3200"]   # fish-s1 once the GPU box is back',
        '+allowed = ["codec2-3200", "fish-s1"]   # fish-s1 once the GPU box is back',
    ]
    files = [line for line in changed[2:] if line not in ("+",)]
    assert files[0] == "+[models.fish-s1.files]"
    assert sorted(line.split(" = ")[0] for line in files[1:]) == sorted(
        f'+"{name}"' for name in checkpoint_layouts()["fish-s1"].files
    )
    text = (root / "refmgr.toml").read_text()
    for comment in ("# Voices of", "# how we like", "# the seed the director", "# the studio's"):
        assert comment in text
    assert text.index("[render]") < text.index("[engines]") < text.index("[codecs]")

    # The locations file is edited in place too: a user's own comment and entry stay.
    locations = user_config_dir() / "checkpoints.toml"
    assert locations.exists()
    locations.write_text(
        locations.read_text() + '\n# my other model\n["fish-1.5"]\npath = "/models/v15"\n'
    )
    again = _checkpoint(tmp_path / "s1-new")
    assert main(["model", "pin", "fish-s1", str(again)]) == 0
    kept = locations.read_text()
    assert "# my other model" in kept and '"/models/v15"' in kept and str(again) in kept


def test_the_commit_hook_never_imports_tomlkit(hand_repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "refmgr", "validate"],
        cwd=hand_repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "tomlkit" not in proc.stderr
