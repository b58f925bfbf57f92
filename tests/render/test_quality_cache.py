"""Scores are cached by what they depend on: a no-op render of 200 scored lines, and a
render in a moved copy of the checkout, call no scorer and load no model. (Their wall time
is benchmarks/bench_quality.py's to measure.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from refmgr.commands.render import RenderOptions, render_script
from refmgr.project import open_project
from refmgr.quality.line import LineScorer
from tests.support.quality import (
    CAST,
    Counter,
    Table,
    clip,
    flite_repo,
    flite_template,
    playback,
    set_limits,
)

__all__ = ["flite_repo", "flite_template", "playback"]

LINES = 200


@pytest.mark.slow
def test_a_no_op_render_and_a_moved_checkout_score_nothing(
    flite_repo: Path, playback: Table, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_limits(flite_repo, dnsmos="never")  # DNSMOS would make the first render minutes long
    script = []
    for i in range(LINES):
        voice = CAST[i % len(CAST)]
        audio, rate = clip(f"{voice}_{'ab'[i % 2]}")
        start = (i % 7) * rate // 10
        text = f"Line {i}: short."
        playback[voice, text] = (audio[start : start + rate], rate)  # one second, each its own
        script.append(f"{voice}: {text}")
    (flite_repo / "ep.txt").write_text("\n".join(script) + "\n")
    options = RenderOptions(engine_id="playback", retakes=0)

    first = render_script(open_project(flite_repo), flite_repo / "ep.txt", options=options)
    assert len(first.run.rendered) == LINES and first.run.scored == LINES
    assert len(first.run.quality) == LINES

    scored = Counter(monkeypatch, LineScorer, "score")
    loaded = Counter(monkeypatch, LineScorer, "load")
    again = render_script(open_project(flite_repo), flite_repo / "ep.txt", options=options)
    assert again.run.rendered == [] and again.run.scored == 0
    assert scored.calls == 0 and loaded.calls == 0
    assert again.run.quality == first.run.quality  # every line still has its scores

    moved = tmp_path / "elsewhere" / "voices"
    shutil.copytree(flite_repo, moved, symlinks=True)
    monkeypatch.chdir(moved)
    there = render_script(open_project(moved), moved / "ep.txt", options=options)
    assert there.run.rendered == [] and there.run.scored == 0
    assert scored.calls == 0 and loaded.calls == 0
    assert (moved / "renders" / "ep.lock.json").read_bytes() == (
        flite_repo / "renders" / "ep.lock.json"
    ).read_bytes()
