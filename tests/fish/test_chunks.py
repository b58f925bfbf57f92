"""A long line with the S1 engine on the tiny checkpoint: spoken in chunks (each within the
model's context), one edited sentence re-renders one chunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from refmgr.backends.registry import ENGINES
from refmgr.render.chunks import split_text
from tests.support.helpers import RecordingFactory, git
from tests.support.render import check_lock, chunk_files, long_text, outputs, render, rendered


@pytest.fixture
def long_episode(s1_repo: Path, recording: RecordingFactory) -> Path:
    from refmgr.cli import main

    rec = recording("alpha.wav", seconds=3.3)
    assert main(["add", str(rec), "--codec", "fish-s1", "--text", "The alpha voice speaks."]) == 0
    config = s1_repo / "refmgr.toml"
    text = config.read_text().replace("max_new_tokens = 1024", "max_new_tokens = 4")
    config.write_text(text)
    (s1_repo / "ep.txt").write_text(f"[long] alpha: {long_text()}\n")
    git(s1_repo, "add", "-A")
    git(s1_repo, "commit", "-qm", "a long line for fish-s1")
    return s1_repo


def test_a_3000_character_line_renders_in_chunks_and_an_edit_renders_one(
    long_episode: Path,
) -> None:
    result = render(long_episode, engine_id="fish-s1")
    assert rendered(result) == ["long"], [str(f.error) for f in result.run.failures]
    expected = split_text(long_text(), ENGINES["fish-s1"].max_chunk_chars)
    lock = check_lock(long_episode)
    (entry,) = lock["entries"]
    assert [c["text"] for c in entry["chunks"]] == expected and len(expected) >= 10
    assert entry["output"]["sample_rate"] == 44100
    before_files = chunk_files(long_episode)
    before = outputs(long_episode)

    script = long_episode / "ep.txt"
    script.write_text(script.read_text().replace("In part 7, ", "In part 7, then "))
    assert rendered(render(long_episode, engine_id="fish-s1")) == ["long"]
    after_files = chunk_files(long_episode)
    assert len([n for n, ino in after_files.items() if before_files.get(n) != ino]) == 1
    assert outputs(long_episode)["long-alpha.wav"] != before["long-alpha.wav"]
    check_lock(long_episode)
