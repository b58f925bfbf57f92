"""F2: file names that git or pre-commit hand to refmgr are operands, never options. A staged
file named --help or -h must not turn a hook into "print the help and pass"."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.gitenv import BIN, PROJECT, commit, head, must, run
from tests.support.hostile import clone, refmgr

pytest_plugins = ["tests.support.voice_fixtures"]

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "


def _stage_wav_with(root: Path, option_name: str) -> None:
    (root / "take.wav").write_bytes(WAV)
    (root / option_name).write_text("a file with an option's name\n")


@pytest.mark.parametrize("option_name", ["--help", "-h"])
def test_the_framework_hook_blocks_a_wav_staged_with_an_option_named_file(
    framework_repo: Path, env: dict[str, str], option_name: str
) -> None:
    before = head(framework_repo, env)
    _stage_wav_with(framework_repo, option_name)
    proc = commit(framework_repo, env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert head(framework_repo, env) == before
    assert "take.wav: WAV audio" in out and "Usage:" not in out, out


@pytest.mark.parametrize("option_name", ["--help", "-h"])
def test_the_plain_hook_blocks_a_wav_staged_with_an_option_named_file(
    plain_repo: Path, env: dict[str, str], option_name: str
) -> None:
    before = head(plain_repo, env)
    _stage_wav_with(plain_repo, option_name)
    proc = commit(plain_repo, env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and head(plain_repo, env) == before, out
    assert "take.wav: WAV audio" in out and "Usage:" not in out, out


def test_the_hooks_of_a_subdirectory_repository_take_names_as_operands(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """--root comes before the '--' in the entry, so pre-commit's file names stay operands."""
    top = tmp_path / "game"
    top.mkdir()
    must(run(["git", "init", "-q"], top, env))
    voices = top / "assets" / "voices"
    must(run([sys.executable, "-m", "refmgr", "init", str(voices)], top, env))
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, voices / rel)
    must(
        run(
            [str(BIN / "pre-commit"), "install", "-c", "assets/voices/.pre-commit-config.yaml"],
            top,
            env,
        )
    )
    assert commit(top, env).returncode == 0
    before = head(top, env)
    # The recording inside the voice repository (no-raw-audio checks only that), the
    # option-named file at the top, where pre-commit passes it as '--help'.
    (voices / "take.wav").write_bytes(WAV)
    (top / "--help").write_text("a file with an option's name\n")
    proc = commit(top, env)
    assert proc.returncode != 0 and head(top, env) == before, proc.stdout + proc.stderr
    assert "take.wav: WAV audio" in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", ["validate", "no-raw-audio"])
def test_the_commands_accept_names_after_double_dash(
    repo: Path, env: dict[str, str], command: str
) -> None:
    (repo / "-h").write_bytes(WAV)
    (repo / "refs" / "ghost.npy").write_bytes((repo / "refs" / "alpha.npy").read_bytes())
    root = clone(repo, env)
    proc = refmgr(root, command, "--", "-h", "--help", "refs/ghost.npy")
    assert proc.returncode == 1 and "Usage:" not in proc.stdout, proc.stdout + proc.stderr
    expected = "-h: WAV audio" if command == "no-raw-audio" else "refs/ghost.npy: token file has"
    assert expected in proc.stdout, proc.stdout


def test_git_diff_hands_textconv_an_operand(repo: Path, env: dict[str, str]) -> None:
    """git runs the textconv command with a work-tree path, which a clone chooses: an '-h.npy'
    must be described, not read as an option."""
    (repo / ".gitattributes").write_text("*.npy diff=refmgr\n")
    shutil.copyfile(repo / "refs" / "alpha.npy", repo / "-h.npy")
    root = clone(repo, env)
    assert refmgr(root, "init", ".").returncode == 0  # sets diff.refmgr.textconv
    (root / "-h.npy").write_bytes(b"not tokens")
    proc = run(["git", "diff", "--", "-h.npy"], root, env)
    assert proc.returncode == 0, proc.stderr
    assert "refmgr token file: INVALID" in proc.stdout and "Usage:" not in proc.stdout, proc.stdout
