"""Retakes with the draft engine, whose delivery varies with the seed: a line that fails with
its first seed and passes with a later one ends with the passing take, the lock records
the search, and a later render makes the chosen take directly, byte for byte, without
searching again. A line with its own {seed=N} is never retaken.

The limit that take 1 fails is set from the takes' own measured durations (the test
measures them first with the real engine and scorer), not from numbers written here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from refmgr.backends.draft import DraftEngine
from refmgr.backends.registry import ENGINES
from refmgr.commands.render import RenderOptions, plan_render, render_script
from refmgr.project import open_project
from refmgr.quality.line import LineScorer
from refmgr.render.output import encode_output
from refmgr.render.scoring import Scoring
from refmgr.render.takes import take_seed
from tests.support.quality import Counter, flite_repo, flite_template, set_limits

__all__ = ["flite_repo", "flite_template"]

TEXT = "The lamp is lit and the sea is calm tonight, so we wait for the morning."
SCRIPT = f"slt: {TEXT}\nkal {{seed=5}}: Only its lights, far to the north.\n"
RETAKES = 3


def takes_of_line_one(root: Path) -> tuple[str, list[tuple[int, bytes, float]]]:
    """The line's key and, for takes 1..1+RETAKES: (seed, output bytes, duration ratio)."""
    project = open_project(root)
    plan = plan_render(project, root / "ep.txt")
    step = plan.steps[0]
    assert step.key is not None and step.params is not None
    engine = DraftEngine(ENGINES["draft"])
    scoring = Scoring(project, project.config.quality.render, draft=True)
    voice = plan.cast.members["slt"].voice
    found = []
    for take in range(1, 2 + RETAKES):
        seed = take_seed(step.key, take, step.params.seed)
        synthesis = engine.synthesize(voice, TEXT, dataclasses.replace(step.params, seed=seed))
        data = encode_output(
            synthesis, key=step.key, engine_id="draft", draft=True, take=(take, seed)
        )
        ratio = scoring.measure(data, text=TEXT, character="slt")["duration_ratio"]
        assert isinstance(ratio, float)
        found.append((seed, data, ratio))
    return step.key, found


def test_a_failing_line_ends_with_its_first_passing_take_and_is_reproduced(
    flite_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (flite_repo / "ep.txt").write_text(SCRIPT)
    key, takes = takes_of_line_one(flite_repo)
    ratios = [ratio for _, _, ratio in takes]
    first, later = ratios[0], ratios[1:]
    assert len(set(ratios)) > 1, ratios  # the seed changes the delivery
    # A limit between take 1 and the nearest later take on the far side of it.
    if min(later) < first:
        limit = round((first + min(later)) / 2, 4)
        set_limits(flite_repo, max_duration_ratio=limit, min_duration_ratio=0.1)
        passing = [i + 1 for i, r in enumerate(ratios) if r <= limit]
    else:
        limit = round((first + max(later)) / 2, 4)
        set_limits(flite_repo, min_duration_ratio=limit, max_duration_ratio=9.0)
        passing = [i + 1 for i, r in enumerate(ratios) if r >= limit]
    chosen = passing[0]
    assert chosen > 1
    seed, expected, _ = takes[chosen - 1]

    synthesized = Counter(monkeypatch, DraftEngine, "synthesize")
    scored = Counter(monkeypatch, LineScorer, "score")
    result = render_script(
        open_project(flite_repo), flite_repo / "ep.txt", options=RenderOptions(retakes=RETAKES)
    )
    output = flite_repo / "renders" / "ep" / "0001-slt.wav"
    assert output.read_bytes() == expected
    assert synthesized.calls == chosen + 1  # line 1's takes, and the pinned line's one
    quality = result.run.quality["renders/ep/0001-slt.wav"]
    assert [t.take for t in quality.takes] == list(range(1, chosen + 1))
    assert [bool(t.problems) for t in quality.takes] == [True] * (chosen - 1) + [False]
    assert "renders/ep/0001-slt.wav" not in {f.step.output for f in result.gate_failures}
    pinned = result.run.quality["renders/ep/0002-kal.wav"]
    assert pinned.takes == ()  # {seed=5}: one take, whatever its scores

    from tests.support.render import check_lock

    lock = check_lock(flite_repo)
    entry = lock["entries"][0]
    assert entry["take"] == {"take": chosen, "seed": seed}
    assert entry["params"]["seed"] == 0 and entry["key"] == key  # the line's own key
    assert [t["take"] for t in entry["quality"]["takes"]] == list(range(1, chosen + 1))
    assert "take" not in lock["entries"][1] and lock["entries"][1]["params"]["seed"] == 5
    assert "takes" not in lock["entries"][1]["quality"]

    # The output is lost (or this is a fresh clone with the lock): the chosen take is made
    # directly, the same bytes, with no search and nothing to score.
    output.unlink()
    synthesized.calls = scored.calls = 0
    again = render_script(
        open_project(flite_repo), flite_repo / "ep.txt", options=RenderOptions(retakes=RETAKES)
    )
    assert [s.line.label for s in again.run.rendered] == ["0001"]
    assert synthesized.calls == 1 and scored.calls == 0 and again.run.scored == 0
    assert output.read_bytes() == expected
    assert check_lock(flite_repo)["entries"][0] == entry

    # --force searches again: deterministic, the same take, and its scores are known.
    synthesized.calls = 0
    forced = render_script(
        open_project(flite_repo),
        flite_repo / "ep.txt",
        options=RenderOptions(retakes=RETAKES, force=True, only=("0001",)),
    )
    assert synthesized.calls == chosen and forced.run.scored == 0 and scored.calls == 0
    assert output.read_bytes() == expected


def test_a_line_in_chunks_is_retaken_whole_and_reproduced_from_the_lock(
    flite_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split line that fails the gate is retaken with another seed for all its chunks;
    the best take stays, the lock lists its search and its chunks, and the next render
    makes nothing (the chosen take's chunks are those on disk)."""
    from tests.support.render import check_lock, chunk_files, long_text

    (flite_repo / "ep.txt").write_text(f"[long] slt: {long_text(1200)}\n")
    set_limits(flite_repo, max_duration_ratio=0.05, min_duration_ratio=0.01)  # no take passes
    options = RenderOptions(retakes=2)
    result = render_script(open_project(flite_repo), flite_repo / "ep.txt", options=options)
    assert [s.line.label for s in result.run.rendered] == ["long"]
    assert result.run.takes == 3
    (entry,) = check_lock(flite_repo)["entries"]
    assert len(entry["chunks"]) >= 4
    tried = entry["quality"]["takes"]
    assert [t["take"] for t in tried] == [1, 2, 3]
    chosen = entry.get("take", {"take": 1})["take"]
    assert chosen in (1, 2, 3)
    chunk_keys = {c["key"] for c in entry["chunks"]}
    assert chunk_keys <= {name.removesuffix(".wav") for name in chunk_files(flite_repo)}

    synthesized = Counter(monkeypatch, DraftEngine, "synthesize")
    again = render_script(open_project(flite_repo), flite_repo / "ep.txt", options=options)
    assert again.run.rendered == [] and synthesized.calls == 0
