"""refmgr status: git status for voices."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from refmgr.commands.status import repository_status
from refmgr.project import open_project
from tests.support.bad_cases import MANIFEST, TOKENS, edit_manifest
from tests.support.cli import run_cli
from tests.support.helpers import git

pytest_plugins = ["tests.support.voice_fixtures"]


def entries() -> dict[tuple[str, str], str]:
    result = repository_status(open_project())
    return {(e.name, e.state): e.detail for e in result.entries}


def add_bravo(root: Path) -> None:
    shutil.copy(root / TOKENS, root / "refs" / "bravo.npy")
    data = json.loads((root / MANIFEST).read_text())
    data["name"], data["tokens"]["path"] = "bravo", "refs/bravo.npy"
    (root / "manifests" / "bravo.json").write_text(json.dumps(data))


def test_a_clean_repository(repo: Path) -> None:
    assert entries() == {}
    data = json.loads(run_cli("status", "--json").stdout)
    assert data["references"] == 1 and data["git"] is True and data["entries"] == []
    proc = run_cli("status")
    assert "nothing to commit, no problems" in proc.stdout
    assert "codec2-3200: pycodec2 4.1.1, 1 reference" in proc.stdout


def test_new_changed_and_problems(repo: Path) -> None:
    add_bravo(repo)
    git(repo, "add", "manifests/bravo.json")
    (repo / "refs" / "ghost.npy").write_bytes(b"x")
    edit_manifest(repo, lambda d: d.update(transcript="A new transcript."))
    found = entries()
    assert found[("bravo", "new")] == "refs/bravo.npy (untracked), manifests/bravo.json (staged)"
    assert "manifests/alpha.json modified" in found[("alpha", "manifest-without-tokens")]
    assert (
        found[("ghost", "orphan-tokens")] == "refs/ghost.npy has no manifest (manifests/ghost.json)"
    )
    text = run_cli("status").stdout
    assert text.index("Not yet committed:") < text.index("Changed:") < text.index("Problem:")


def test_tokens_changed_without_their_manifest(repo: Path) -> None:
    data = bytearray((repo / TOKENS).read_bytes())
    data[-1] ^= 1
    (repo / TOKENS).write_bytes(bytes(data))
    detail = entries()[("alpha", "tokens-without-manifest")]
    assert detail.startswith("refs/alpha.npy modified but manifests/alpha.json unchanged")


def test_stale_pins_and_removed(repo: Path) -> None:
    edit_manifest(repo, lambda d: d["codec"]["library"].update(version="4.0.0"))
    detail = entries()[("alpha", "stale-pin")]
    assert "made with pycodec2 4.0.0 but refmgr.toml pins 4.1.1" in detail
    assert "refmgr add --force alpha.wav --name alpha" in detail
    assert "refmgr pin codec2-3200 --library-version 4.0.0" in detail
    git(repo, "checkout", "--", MANIFEST)
    git(repo, "rm", "-q", TOKENS, MANIFEST)
    assert ("alpha", "removed") in entries()


def test_outside_git(repo: Path) -> None:
    shutil.rmtree(repo / ".git")
    add_bravo(repo)
    result = repository_status(open_project())
    assert result.git is False and result.entries == []
    data = json.loads(run_cli("status", "--json").stdout)
    assert data["git"] is False and data["entries"] == []
    assert "not a git repository" in run_cli("status").stdout
