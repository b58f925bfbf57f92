"""examples/ci/render.yml, played for real run after run: each job in a clone of its own,
with a real cache and real artifacts (see actions.py), the draft engine standing in for
fish-s1. Every run's merge, mix and cache save succeed, only the lines that changed are
rendered, and the merged lock is the lock of one whole render, byte for byte."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.render.test_ci_example import WORKFLOW
from tests.support.actions import Actions, Run
from tests.support.cli import run_cli
from tests.support.helpers import git, make_recording

# Round robin over 3 shards: shard 1 takes lines 1, 4, 7; shard 2 lines 2, 5, 8; shard 3
# lines 3, 6, 9. Each shard has lines of both characters.
EPISODE = """\
alpha: The lamp is lit and the sea is calm tonight.
beta: Did you see the ship near the rocks?
beta: It came in close before the fog.
beta: Its lights went out one by one.
alpha: Only its lights, far to the north.
alpha: Then the bell rang twice.
beta: Then we wait until morning.
beta: I will keep the fire going.
alpha: Good night.
"""
SUMMARY = re.compile(r"rendered (\d+), reused (\d+), kept (\d+), failed (\d+) of 9 lines")


@pytest.fixture
def origin(cast_repo: Path) -> Path:
    """The voice repository the workflow checks out: two references and the episode."""
    (cast_repo / "scripts").mkdir()
    (cast_repo / "scripts" / "episode.txt").write_text(EPISODE)
    git(cast_repo, "add", "-A")
    git(cast_repo, "commit", "-qm", "episode")
    return cast_repo


@pytest.fixture
def actions(origin: Path, tmp_path: Path) -> Actions:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return Actions(workflow, origin, tmp_path / "actions", {"ENGINE": "draft", "DEVICE": "cpu"})


def edit_line(origin: Path, number: int, text: str) -> None:
    path = origin / "scripts" / "episode.txt"
    lines = path.read_text().splitlines(keepends=True)
    name = lines[number - 1].partition(":")[0]
    lines[number - 1] = f"{name}: {text}\n"
    path.write_text("".join(lines))


def counts(run: Run) -> dict[int, tuple[int, int, int, int]]:
    """(rendered, reused, kept, failed) of each shard, from its render step's summary."""
    found = {}
    for shard in (1, 2, 3):
        job = run.jobs[f"render-{shard}"]
        match = SUMMARY.search(job.step("Render shard").stdout)
        assert match is not None, job.step("Render shard")
        found[shard] = (int(match[1]), int(match[2]), int(match[3]), int(match[4]))
    return found


def whole_render_lock(actions: Actions, origin: Path, where: Path) -> bytes:
    """The lock of one whole render of the origin's HEAD, on one machine."""
    subprocess.run(["git", "clone", "-q", str(origin), str(where)], check=True)
    env = {**os.environ, "CI": "true", "PATH": f"{actions.bin}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        ["refmgr", "render", "scripts/episode.txt", "--engine", "draft", "--device", "cpu"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return (where / "renders" / "episode.lock.json").read_bytes()


def check_run(actions: Actions, run: Run, origin: Path, tmp_path: Path) -> None:
    merge = run.jobs["merge"]
    assert all(job.ok for job in run.jobs.values()), merge.failure() + "".join(
        j.failure() for j in run.jobs.values()
    )
    assert merge.step("Save renders/").note.startswith("saved "), merge.step("Save renders/")
    merged = (merge.workspace / "renders" / "episode.lock.json").read_bytes()
    whole = whole_render_lock(actions, origin, tmp_path / f"whole-{run.number}")
    assert merged == whole
    episode = run.artifacts / "episode"
    assert (episode / "renders" / "episode.lock.json").read_bytes() == whole
    assert (episode / "episode.wav").stat().st_size > 0
    # Only this script's current outputs are cached: no stale line, no shard lock.
    saved = actions.caches[-1][1] / "renders"
    assert sorted(p.name for p in saved.iterdir()) == ["episode", "episode.lock.json"]
    assert len(list((saved / "episode").iterdir())) == 9


def test_three_runs_render_only_what_changed(
    actions: Actions, origin: Path, tmp_path: Path, recordings_cache: Path
) -> None:
    # Run 1, from an empty cache: every shard renders its three lines.
    run = actions.run()
    assert run.jobs["render-1"].step("Restore").note == "cache miss"
    check_run(actions, run, origin, tmp_path)
    assert counts(run) == {1: (3, 0, 0, 0), 2: (3, 0, 0, 0), 3: (3, 0, 0, 0)}

    # Run 2: line 2 (shard 2) changed. Shards 1 and 3 restore the old line 2 from the
    # cache: a stale copy that must not reach the merge.
    edit_line(origin, 2, "Did you see the lights near the rocks?")
    git(origin, "commit", "-qam", "line 2")
    run = actions.run()
    check_run(actions, run, origin, tmp_path)
    assert counts(run) == {1: (0, 0, 3, 0), 2: (1, 0, 2, 0), 3: (0, 0, 3, 0)}
    line_2 = "renders/episode/0002-beta.wav"
    stale = (run.jobs["render-1"].workspace / line_2).read_bytes()
    assert stale != (run.jobs["render-2"].workspace / line_2).read_bytes()

    # Run 3: lines 3 (shard 3) and 4 (shard 1) changed, and alpha re-added from another
    # recording: alpha's lines 1, 5, 6 and 9 render again too.
    edit_line(origin, 3, "It came in close after the fog.")
    edit_line(origin, 4, "Its lights went out two by two.")
    recording = make_recording(
        tmp_path / "alpha-again.wav", voice="en-us+m3", cache=recordings_cache
    )
    added = run_cli(
        "add",
        str(recording),
        "--name",
        "alpha",
        "--force",
        "--language",
        "en",
        "--text",
        "The quick brown fox jumps over the lazy dog.",
        cwd=origin,
    )
    assert added.returncode == 0, added.stderr
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "lines 3 and 4; alpha again")
    run = actions.run()
    check_run(actions, run, origin, tmp_path)
    assert counts(run) == {1: (2, 0, 1, 0), 2: (1, 0, 2, 0), 3: (3, 0, 0, 0)}
    assert len(actions.caches) == 3


def test_a_failed_shard_is_re_run(actions: Actions, origin: Path, tmp_path: Path) -> None:
    # Shard 2's runner dies after its first line ("Re-run failed jobs" gets a fresh one).
    run = actions.run({"render-2": {"REFMGR_FAILPOINT": "render-after-output"}})
    assert not run.jobs["render-2"].ok and run.jobs["render-1"].ok and run.jobs["render-3"].ok
    assert run.jobs["render-2"].step("Bundle shard").ran  # what did render is kept
    merge = run.jobs["merge"]
    assert not merge.ok and "3 lines have no output" in merge.step("refmgr render merge").stderr
    assert not merge.step("Save renders/").ran and actions.caches == []
    actions.rerun_failed(run)
    assert run.attempt == 2
    check_run(actions, run, origin, tmp_path)
    assert counts(run)[2] == (3, 0, 0, 0)
