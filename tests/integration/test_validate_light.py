"""The commit hook stays light and safe: no torch, no jsonschema or GitPython on the good
path, and a header that claims a huge array costs nothing."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bad_cases import TOKENS, edit_manifest
from tests.support.helpers import git
from tests.test_tokens import npy_with_header

pytest_plugins = ["tests.support.voice_fixtures"]


def imported_modules(args: list[str], cwd: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "refmgr", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}


@pytest.mark.parametrize(
    "args", [["validate"], ["validate", "--staged"], ["validate", "--staged", TOKENS]]
)
def test_validate_imports_nothing_heavy(repo: Path, args: list[str]) -> None:
    imported = imported_modules(args, repo)
    assert "refmgr" in imported and "numpy" in imported
    assert not imported & {"torch", "fish_speech", "torchaudio", "ray"}
    # The fast schema path and git plumbing: no jsonschema or GitPython unless a check fails.
    assert not imported & {"jsonschema", "git"}


def test_no_raw_audio_and_textconv_import_no_torch(repo: Path) -> None:
    for args in (["no-raw-audio", "--staged"], ["textconv", TOKENS]):
        assert not imported_modules(args, repo) & {"torch", "fish_speech", "torchaudio", "git"}


def _limit_memory() -> None:
    limit = 1 << 31  # 2 GiB of address space: the claimed array needs 8 TiB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_a_huge_claimed_shape_allocates_nothing(repo: Path) -> None:
    frames = 1 << 40
    body = (repo / TOKENS).read_bytes()[128:]
    header = f"{{'descr': '|u1', 'fortran_order': False, 'shape': (8, {frames}), }}"
    (repo / TOKENS).write_bytes(npy_with_header(header, body))
    # The manifest agrees with the header: only the file's size gives the lie away.
    edit_manifest(repo, lambda d: d["tokens"].update(shape=[8, frames]))
    git(repo, "add", "-A")
    for args in (["validate"], ["validate", "--staged"], ["textconv", TOKENS]):
        proc = subprocess.run(
            [sys.executable, "-m", "refmgr", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=_limit_memory,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        output = proc.stdout + proc.stderr
        assert "refs/alpha.npy: " in output and "truncated or padded" in output
        assert "Traceback" not in output and "MemoryError" not in output
