"""A script line longer than limits.max_line_chars, or a script file over MAX_SCRIPT_BYTES,
is refused before anything is rendered or loaded."""

from __future__ import annotations

from pathlib import Path

from refmgr.render.script import MAX_SCRIPT_BYTES
from tests.support.cli import run_cli
from tests.support.helpers import one_line_error, snapshot


def render_refused(repo: Path, script: Path, *needles: str) -> None:
    before = snapshot(repo)
    proc = run_cli("render", script)
    assert proc.returncode == 1, proc.stderr
    assert one_line_error(proc.stderr, *needles), proc.stderr
    assert snapshot(repo) == before


def test_default_limit_is_10000_characters(voice_repo: Path) -> None:
    script = voice_repo / "ep.txt"
    script.write_text("# fine\nalpha: " + "x" * 9993 + "\nalpha: " + "y" * 9994 + "\n")
    render_refused(voice_repo, script, "ep.txt:3: line is 10001 characters, limit 10000")


def test_the_limit_is_configurable(voice_repo: Path) -> None:
    config = voice_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("max_line_chars = 10000", "max_line_chars = 20"))
    script = voice_repo / "ep.txt"
    script.write_text("alpha: twelve chars\nalpha: this is longer than twenty\n")
    render_refused(
        voice_repo, script, "ep.txt:2: line is 33 characters, limit 20", "limits.max_line_chars"
    )


def test_limit_must_be_positive(voice_repo: Path) -> None:
    config = voice_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("max_line_chars = 10000", "max_line_chars = 0"))
    proc = run_cli("ls")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "refmgr.toml", "max_line_chars must be positive")


def test_script_file_size_is_capped_before_reading(voice_repo: Path) -> None:
    script = voice_repo / "ep.txt"
    with open(script, "wb") as f:
        f.truncate(MAX_SCRIPT_BYTES + 1)
    render_refused(voice_repo, script, "ep.txt", "over the limit of")


def test_script_symlinked_to_dev_zero(voice_repo: Path) -> None:
    script = voice_repo / "ep.txt"
    script.symlink_to("/dev/zero")
    render_refused(voice_repo, script, "ep.txt", "not a regular file (a character device)")
