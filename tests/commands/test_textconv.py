"""refmgr textconv, and git diff / git log -p through it in a repository set up by refmgr init."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from refmgr.tokens import encode_npy
from tests.support.bad_cases import TOKENS, replace_tokens
from tests.support.cli import run_cli
from tests.support.gitenv import PROJECT, run
from tests.support.helpers import one_line_error

pytest_plugins = ["tests.support.voice_fixtures"]


def test_summary_of_the_example_voice(tmp_path: Path) -> None:
    proc = run_cli("textconv", PROJECT / TOKENS)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:5] == [
        "refmgr token file",
        "codec     codec2-3200 (inferred from codebooks, dtype and code ranges)",
        "shape     [8, 1455] uint8, 11768 bytes",
        "duration  29.10 s (1455 frames at 50 frames/s)",
        "sha256    f92af8eb8c26ef3c2d3b75b6e57ddfcb224a75e01008d774647741b1b7202afe",
    ]
    assert len([line for line in lines if " distinct " in line]) == 8
    assert lines[-3].startswith("      0 s  ") and lines[-1].startswith("     20 s  ")
    # The same bytes under another name (git's temporary copies) give the same text.
    copy = tmp_path / "XYZ123_alpha.npy"
    shutil.copy(PROJECT / TOKENS, copy)
    assert run_cli("textconv", copy).stdout == proc.stdout


def test_unknown_codec_and_explicit_codec(tmp_path: Path) -> None:
    path = tmp_path / "odd.npy"
    path.write_bytes(encode_npy(np.arange(9 * 120, dtype=np.int16).reshape(9, 120)))
    out = run_cli("textconv", path).stdout
    assert "codec     unknown (no registered codec makes 9 codebooks of int16 codes)" in out
    assert "duration" not in out and "frames (first 8 hex digits" in out
    path.write_bytes(encode_npy(np.zeros((8, 100), dtype=np.uint8)))
    out = run_cli("textconv", "--codec", "codec2-3200", path).stdout
    assert "codec     codec2-3200 (given)" in out and "duration  2.00 s" in out


def test_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(b"RIFF....WAVEfmt ")
    proc = run_cli("textconv", path)
    assert proc.returncode == 1 and one_line_error(proc.stderr, "bad.npy: ", "not an npy file")
    proc = run_cli("textconv", "--git", path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("refmgr token file: INVALID: not an npy file")


def _changed_second(root: Path) -> None:
    codes = np.load(root / TOKENS, allow_pickle=False).copy()
    codes[:, 250:300] = 7  # the sixth second
    replace_tokens(root, encode_npy(codes), update_manifest=True)


def test_git_diff_and_log_show_the_summary(repo: Path, env: dict[str, str]) -> None:
    _changed_second(repo)
    diff = run(["git", "diff", "--", TOKENS], repo, env).stdout
    assert "Binary files" not in diff
    assert "-sha256    f92af8eb8c26" in diff and "+sha256    " in diff
    changed = [line for line in diff.splitlines() if line.startswith(("-  ", "+  "))]
    # one line of second-hashes changed (seconds 0-9), and some codebook usage lines
    assert any(line.startswith("-      0 s") for line in changed)
    assert not any(line.startswith("-     10 s") for line in changed)
    run(["git", "commit", "-qam", "sixth second"], repo, env)
    log = run(["git", "log", "-p", "-1", "--", TOKENS], repo, env).stdout
    assert "+sha256    " in log and "Binary files" not in log


def test_a_bad_commit_does_not_break_git_log(repo: Path, env: dict[str, str]) -> None:
    (repo / TOKENS).write_bytes(b"\x93NUMPY\x01\x00garbage")
    run(["git", "commit", "-qam", "broken", "--no-verify"], repo, env)
    proc = run(["git", "log", "-p", "-1"], repo, env)
    assert proc.returncode == 0
    assert "+refmgr token file: INVALID" in proc.stdout
