"""F4: a lone surrogate in a manifest string (JSON "\\ud800") is not text any command can
print or hash. validate refuses it, naming the file and field; every other command treats
the manifest as invalid (exit 1, one line), and render fails only that voice's lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.hostile import assert_refused, clone, refmgr

pytest_plugins = ["tests.support.voice_fixtures"]


def _plant(root: Path, field: list[str | int], value: str) -> None:
    """Set ``field`` of alpha's manifest to ``value``, written with \\u escapes, as JSON allows."""
    path = root / "manifests" / "alpha.json"
    data = json.loads(path.read_text())
    target = data
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    path.write_text(json.dumps(data, indent=2))  # ensure_ascii: "\ud800" stays an escape


def _add_beta(root: Path) -> None:
    """A second, valid voice: alpha's tokens under another name."""
    shutil.copyfile(root / "refs" / "alpha.npy", root / "refs" / "beta.npy")
    data = json.loads((root / "manifests" / "alpha.json").read_text())
    data["name"], data["tokens"]["path"] = "beta", "refs/beta.npy"
    (root / "manifests" / "beta.json").write_text(json.dumps(data, indent=2))


FIELDS = [["transcript"], ["source", "file"], ["created", "refmgr_version"], ["language"]]


@pytest.mark.parametrize("field", FIELDS, ids=".".join)
def test_validate_refuses_a_lone_surrogate(
    repo: Path, env: dict[str, str], field: list[str | int]
) -> None:
    _plant(repo, field, "Hello \ud800 there")
    clone_root = clone(repo, env)
    proc = refmgr(clone_root, "validate")
    shown = proc.stdout.strip()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert shown.count("\n") == 0 and "manifests/alpha.json" in shown, shown
    assert ".".join(map(str, field)) in shown and "surrogate" in shown, shown


def test_every_command_treats_the_manifest_as_invalid(repo: Path, env: dict[str, str]) -> None:
    _plant(repo, ["transcript"], "Hi \udfff")
    (repo / "ep.txt").write_text("alpha: Hello there.\n")
    clone_root = clone(repo, env)
    for args in (["ls"], ["show", "alpha"], ["render", "ep.txt"], ["render", "status", "ep.txt"]):
        assert_refused(refmgr(clone_root, *args), "manifests/alpha.json", "transcript")
    status = refmgr(clone_root, "status")
    assert status.returncode in (0, 1) and "internal error" not in status.stderr
    assert "manifests/alpha.json: transcript" in status.stdout


def test_render_fails_only_that_voices_lines(repo: Path, env: dict[str, str]) -> None:
    _add_beta(repo)
    _plant(repo, ["transcript"], "\ud800")
    (repo / "ep.txt").write_text("alpha: Hello there.\nbeta: Good evening.\n")
    clone_root = clone(repo, env)
    proc = refmgr(clone_root, "render", "ep.txt")
    assert_refused(proc, "manifests/alpha.json", "not rendered: 0001")
    assert (clone_root / "renders" / "ep" / "0002-beta.wav").is_file()
    assert not (clone_root / "renders" / "ep" / "0001-alpha.wav").exists()


def test_the_commit_hook_refuses_it(framework_repo: Path, env: dict[str, str]) -> None:
    from tests.support.gitenv import commit, head

    before = head(framework_repo, env)
    _plant(framework_repo, ["transcript"], "a\udabcb")
    proc = commit(framework_repo, env)
    assert proc.returncode != 0 and head(framework_repo, env) == before
    assert "manifests/alpha.json: transcript" in proc.stdout + proc.stderr


def test_a_script_cannot_carry_a_surrogate(repo: Path, env: dict[str, str]) -> None:
    """Scripts are strict UTF-8: the bytes of an encoded surrogate (ED A0 80) and other
    invalid UTF-8 are refused with the line and column, never read through surrogateescape."""
    (repo / "ep.txt").write_bytes(b"alpha: fine\nalpha: bad \xed\xa0\x80 bytes\n")
    (repo / "ep2.txt").write_bytes(b"alpha: \xff\xfe\n")
    clone_root = clone(repo, env)
    for script, where in (("ep.txt", "ep.txt:2:"), ("ep2.txt", "ep2.txt:1:")):
        for args in (["render", script], ["render", "status", script]):
            assert_refused(refmgr(clone_root, *args), where, "not UTF-8")
