"""validate --staged reads the git index, not the working tree; paths select references."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from refmgr.commands.validate import validate_repository
from tests.support.bad_cases import MANIFEST, TOKENS, edit_manifest
from tests.support.cli import run_cli
from tests.support.helpers import git

pytest_plugins = ["tests.support.voice_fixtures"]


def problems(staged: bool = False, paths: tuple[str, ...] = ()) -> list[str]:
    result = validate_repository(staged=staged, paths=[Path(p) for p in paths])
    return [str(f) for f in result.findings]


def test_the_index_is_what_counts(repo: Path) -> None:
    good = (repo / TOKENS).read_bytes()
    (repo / TOKENS).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    git(repo, "add", TOKENS)
    (repo / TOKENS).write_bytes(good)  # the working tree is fine again, the index is not
    assert problems() == []
    assert any("sha256" in p for p in problems(staged=True))


def test_an_unstaged_partner_is_missing_from_the_index(repo: Path) -> None:
    shutil.copy(repo / TOKENS, repo / "refs" / "bravo.npy")
    edit_manifest(repo, lambda d: d["tokens"].update(path="refs/bravo.npy"))
    edit_manifest(repo, lambda d: d.update(name="bravo"))
    os.replace(repo / MANIFEST, repo / "manifests" / "bravo.json")
    git(repo, "checkout", "--", MANIFEST)
    git(repo, "add", "manifests/bravo.json")  # refs/bravo.npy is left untracked
    assert problems() == []
    staged = problems(staged=True, paths=("manifests/bravo.json",))
    assert staged == [
        "manifests/bravo.json: token file refs/bravo.npy is missing: restore it, or remove "
        "the reference with refmgr rm bravo"
    ]


def test_paths_select_references_but_pairs_are_always_checked(repo: Path) -> None:
    (repo / "refs" / "ghost.npy").write_bytes(b"not even npy")
    edit_manifest(repo, lambda d: d.update(transcript=" "))  # breaks alpha's manifest
    only_alpha = problems(paths=(TOKENS,))
    assert any(p.startswith("manifests/alpha.json: transcript") for p in only_alpha)
    assert any(p.startswith("refs/ghost.npy: token file has no manifest") for p in only_alpha)
    # ghost's content is not checked unless selected
    assert not any("bad magic" in p for p in only_alpha)
    assert any("bad magic" in p for p in problems(paths=("refs/ghost.npy",)))
    assert any("bad magic" in p for p in problems(paths=("refmgr.toml",)))  # config: all


def test_paths_outside_or_unknown(repo: Path, tmp_path: Path) -> None:
    found = problems(paths=("README.md", "manifests/nope.json", str(tmp_path / "x.npy")))
    assert any(p.startswith("README.md: not a reference file") for p in found)
    assert "manifests/nope.json: not in the working tree" in found
    assert any("is outside the voice repository" in p for p in found)


def test_symlinks_in_the_index_are_followed_by_path(repo: Path) -> None:
    os.replace(repo / TOKENS, repo / "refs" / "real.npy")
    os.symlink("real.npy", repo / TOKENS)  # inside refs/: allowed
    git(repo, "add", "-A")
    assert [p for p in problems(staged=True) if "alpha" in p] == []
    os.unlink(repo / TOKENS)
    os.symlink("../../../etc/passwd", repo / TOKENS)
    git(repo, "add", "-A")
    assert "refs/alpha.npy: token file is a symlink leading outside refs/" in problems(staged=True)


def test_the_staged_config_is_used(repo: Path) -> None:
    path = repo / "refmgr.toml"
    text = path.read_text()
    path.write_text(text.replace("max_token_bytes = 1048576", "max_token_bytes = 100"))
    git(repo, "add", "refmgr.toml")
    path.write_text(text)
    assert problems() == []
    assert any("over the limit of 100" in p for p in problems(staged=True))
    path.write_text(text.replace("[limits]", "[limts]"))
    git(repo, "add", "refmgr.toml")
    assert problems(staged=True) == ["refmgr.toml: unknown key 'limts' (did you mean 'limits'?)"]


def test_an_unresolved_merge_conflict(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    edit_manifest(repo, lambda d: d.update(transcript="Other words."))
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    edit_manifest(repo, lambda d: d.update(transcript="Main words."))
    git(repo, "commit", "-qam", "main")
    merge = subprocess.run(["git", "merge", "-q", "other"], cwd=repo, capture_output=True)
    assert merge.returncode != 0  # a conflict in manifests/alpha.json
    assert (
        "manifests/alpha.json: unresolved merge conflict: resolve it, then git add it"
        in problems(staged=True)
    )


@pytest.mark.parametrize("staged", [False, True])
def test_not_a_voice_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, staged: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    proc = run_cli("validate", *(["--staged"] if staged else []))
    assert proc.returncode == 1
    assert "not inside a refmgr voice repository" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
