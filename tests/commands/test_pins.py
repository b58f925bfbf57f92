"""Pins in refmgr.toml: written by init and add, checked by validate, changed by refmgr pin."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from refmgr.config import Config, ModelSettings, load_config
from refmgr.errors import ConfigError
from refmgr.manifest import load_manifest
from refmgr.pins import require_installed_matches, stale_pins
from refmgr.versions import installed_version
from tests.support.bad_cases import MANIFEST, edit_manifest
from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, git

pytest_plugins = ["tests.support.voice_fixtures"]

PYCODEC2 = installed_version("pycodec2")


def pins(root: Path) -> dict[str, object]:
    table = tomllib.loads((root / "refmgr.toml").read_text())
    return dict(table["codecs"].get("pins", {}))


def test_init_pins_the_default_codec(repo: Path) -> None:
    assert pins(repo) == {"codec2-3200": {"library_version": PYCODEC2}}


def test_the_first_add_pins_its_codec(voice_repo: Path, recording: RecordingFactory) -> None:
    path = voice_repo / "refmgr.toml"
    path.write_text(
        path.read_text().replace('[codecs.pins.codec2-3200]\nlibrary_version = "4.1.1"\n', "")
    )
    assert pins(voice_repo) == {}
    proc = run_cli("add", recording("a.wav", seconds=4.0), "--text", "A.", "--stage")
    assert proc.returncode == 0, proc.stderr
    assert pins(voice_repo) == {"codec2-3200": {"library_version": PYCODEC2}}
    assert "refmgr.toml" in git(voice_repo, "diff", "--cached", "--name-only")


def test_add_refuses_another_library_version_than_the_pin(
    voice_repo: Path, recording: RecordingFactory
) -> None:
    assert run_cli("pin", "codec2-3200", "--library-version", "0.0.1").returncode == 0
    before = sorted(p.name for p in (voice_repo / "refs").iterdir())
    proc = run_cli("add", recording("a.wav", seconds=4.0), "--text", "A.")
    assert proc.returncode == 1
    assert f"pins pycodec2 0.0.1 but {PYCODEC2} is installed" in proc.stderr
    assert "refmgr pin codec2-3200" in proc.stderr
    assert sorted(p.name for p in (voice_repo / "refs").iterdir()) == before


def test_pin_makes_manifests_stale_and_validate_names_the_fix(repo: Path) -> None:
    proc = run_cli("pin", "codec2-3200", "--library-version", "9.9")
    assert proc.returncode == 0
    assert f"pinned codec2-3200: pycodec2 9.9 (was {PYCODEC2})" in proc.stdout
    assert "1 reference now with a stale pin (alpha)" in proc.stderr
    proc = run_cli("validate")
    assert proc.returncode == 1
    assert (
        f"manifests/alpha.json: stale pin: tokens made with pycodec2 {PYCODEC2} but "
        "refmgr.toml pins 9.9 for codec2-3200; re-encode with: refmgr add --force alpha.wav "
        f"--name alpha (or, if {PYCODEC2} is right, re-pin with: refmgr pin codec2-3200 "
        f"--library-version {PYCODEC2})"
    ) in proc.stdout
    assert run_cli("pin", "codec2-3200").returncode == 0  # back to the installed version
    assert run_cli("validate").returncode == 0


def test_checkpoint_pins(repo: Path) -> None:
    # A fish-s1 manifest against [models.fish-s1] files (validate needs no model for this).
    edit_manifest(repo, lambda d: d["codec"].update(id="fish-s1"))
    config = load_config(repo / "refmgr.toml")
    config = dataclasses.replace(
        config,
        models={"fish-s1": ModelSettings(files={"codec.pth": "a" * 64, "model.pth": "c" * 64})},
    )
    problems = stale_pins(load_manifest(repo / MANIFEST), config)
    assert len(problems) == 1
    assert (
        "stale pin: checkpoint file codec.pth is not recorded but refmgr.toml pins "
        "aaaaaaaaaaaa… for model fish-s1; re-encode with: refmgr add --force"
    ) in problems[0]
    edit_manifest(repo, lambda d: d["codec"].update(checkpoint={"files": {"codec.pth": "b" * 64}}))
    (problem,) = stale_pins(load_manifest(repo / MANIFEST), config)
    assert "checkpoint file codec.pth is sha256 bbbbbbbbbbbb… but refmgr.toml pins aaaa" in problem
    edit_manifest(repo, lambda d: d["codec"].update(checkpoint={"files": {"codec.pth": "a" * 64}}))
    assert stale_pins(load_manifest(repo / MANIFEST), config) == []


def test_config_checks_pins(tmp_path: Path) -> None:
    path = tmp_path / "refmgr.toml"
    for text, message in [
        ('[codecs.pins.nope]\nlibrary_version = "1"\n', "unknown codec 'nope' in codecs.pins"),
        ('[codecs.pins.codec2-3200]\nlibrary_version = ""\n', "library_version is empty"),
        (
            '[codecs.pins.codec2-3200]\nversion = "1"\n',
            "unknown key 'codecs.pins.codec2-3200.version'",
        ),
    ]:
        path.write_text("schema_version = 1\n" + text)
        with pytest.raises(ConfigError, match=message):
            load_config(path)


def test_require_installed_matches_without_a_pin() -> None:
    require_installed_matches(Config(), "codec2-3200", Path("refmgr.toml"))  # nothing pinned


def test_pin_refuses_a_codec_not_allowed_and_an_empty_version(voice_repo: Path) -> None:
    proc = run_cli("pin", "fish-s1")
    assert proc.returncode == 1
    assert "refmgr.toml: codec 'fish-s1' is not in codecs.allowed (codec2-3200)" in proc.stderr
    proc = run_cli("pin", "codec2-3200", "--library-version", " ")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "--library-version is empty"
    assert pins(voice_repo) == {"codec2-3200": {"library_version": PYCODEC2}}
