"""Render speed with the draft engine, on a 200-line script in a fresh voice repository.

    python benchmarks/bench_render.py

Prints, from one run: the full render's wall time (and, as its baseline, the time the
engine alone takes for the same 200 lines: the rest is refmgr's overhead); a re-render
after one line changed, as a ratio of the full time (target <= 0.05); and a no-op
re-render of all 200 lines (target <= 1 s wall). Every render is the real command line
(`python -m refmgr render`), start-up included; the two short figures are medians of 5
runs. Then the review page of the 200 lines (`render report`, in this process): with no
picture cached (target <= 2 s) and with every picture cached (target <= 0.5 s), medians of
5, each also as a ratio of the full render's time. CPU times (refmgr and the eSpeak processes it runs) are printed beside, being less at
the mercy of other work on the machine. Exits 1 if a target is missed.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import soundfile

from refmgr.backends.espeak import Voice, speak_float
from refmgr.backends.registry import load_engine
from refmgr.commands.add import add_references
from refmgr.commands.init import init_repository
from refmgr.commands.render import report_script
from refmgr.params import SynthesisParams
from refmgr.project import open_project
from refmgr.render.cast import cast_script
from refmgr.render.script import read_script

LINES = 200
TRIALS = 5
ONE_LINE_TARGET = 0.05
NOOP_TARGET_S = 1.0
REPORT_TARGET_S = 2.0  # the review page of LINES lines, no picture cached
REPORT_CACHED_TARGET_S = 0.5  # ... every picture cached
READING = (
    "The quick brown fox jumps over the lazy dog while the band plays a slow waltz under "
    "the old bridge, and everyone on the river bank stops to listen."
)
WORDS = [
    "lamp",
    "sea",
    "ship",
    "rock",
    "tide",
    "gull",
    "wind",
    "rope",
    "bell",
    "stair",
    "light",
    "storm",
    "harbour",
    "morning",
]


def make_repository(root: Path) -> None:
    init_repository(root)
    project = open_project(root)
    for name, voice in (("alpha", "en-us"), ("beta", "en-us+f4")):
        wav = root.parent / f"{name}.wav"
        soundfile.write(wav, speak_float(READING, 44100, Voice(voice)), 44100)
        add_references(project, [wav], text=READING, language="en", quality=False)
    lines = [
        f"{'alpha' if i % 2 else 'beta'}: Line {i}: the {WORDS[i % len(WORDS)]} and the "
        f"{WORDS[(i * 7) % len(WORDS)]} are quiet tonight."
        for i in range(1, LINES + 1)
    ]
    (root / "episode.txt").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@invalid"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@invalid"}
    for args in (["add", "-A"], ["commit", "-qm", "voices"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)


def engine_alone(root: Path) -> float:
    """The engine's time for the script's lines, with nothing of refmgr around it."""
    project = open_project(root)
    script = read_script(root / "episode.txt")
    engine = load_engine("draft")
    cast = cast_script(project, script, engine.spec, require_committed=False)
    params = SynthesisParams(
        seed=0, temperature=0.7, top_p=0.7, repetition_penalty=1.2, max_new_tokens=1024
    )
    start = time.perf_counter()
    for line in script.lines:
        engine.synthesize(cast.members[line.character].voice, line.text, params)
    return time.perf_counter() - start


@dataclass
class Run:
    wall: float
    cpu: float  # user + system time of refmgr and the processes it ran (eSpeak)
    summary: str


def render(root: Path, *, scoring: bool = True) -> Run:
    """``scoring=False``: REFMGR_QUALITY=off, to tell refmgr's own time from the scorers'
    (with refmgr[qa] installed, a render scores what it renders)."""
    env = None if scoring else {**os.environ, "REFMGR_QUALITY": "off"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "render", "episode.txt"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"render failed ({proc.returncode}): {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(elapsed, cpu, proc.stdout.splitlines()[0])


def report_times(root: Path) -> tuple[list[float], list[float]]:
    """Wall times of the review page of the script without and with its pictures cached."""
    project = open_project(root)
    cache = root / ".refmgr" / "report-pictures"
    uncached, cached = [], []
    for _ in range(TRIALS):
        shutil.rmtree(cache, ignore_errors=True)
        for times, drawn in ((uncached, LINES), (cached, 0)):
            start = time.perf_counter()
            result = report_script(project, root / "episode.txt", root / "review.html")
            times.append(time.perf_counter() - start)
            assert result.pictures_drawn == drawn, result.pictures_drawn
            assert result.counts["rendered"] == LINES, result.counts
    return uncached, cached


def _spread(runs: list[Run]) -> str:
    walls = [r.wall for r in runs]
    return f"[median of {len(walls)}: {min(walls):.2f}-{max(walls):.2f} s]"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "voices"
        make_repository(root)
        baseline = engine_alone(root)
        full = render(root)
        assert f"rendered {LINES}," in full.summary, full.summary
        # The short runs are repeated and their median kept: on a shared machine one
        # unlucky scheduling pause would otherwise decide the figure.
        script = root / "episode.txt"
        original = script.read_text()
        ones, unscored = [], []
        for trial in range(TRIALS):
            for runs, scoring in ((ones, True), (unscored, False)):
                take = f"Line 117, take {trial}{'' if scoring else ' unscored'}:"
                script.write_text(original.replace("Line 117:", take))
                runs.append(render(root, scoring=scoring))
                assert "rendered 1," in runs[-1].summary, runs[-1].summary
        noops = []
        for _ in range(TRIALS):
            noops.append(render(root))
            assert "rendered 0," in noops[-1].summary, noops[-1].summary
        page_times, page_cached_times = report_times(root)
    one = statistics.median(r.wall for r in ones)
    one_unscored = statistics.median(r.wall for r in unscored)
    noop = statistics.median(r.wall for r in noops)
    load = os.getloadavg()[0]
    print(f"draft engine, {LINES} lines, {os.cpu_count()} CPUs, load average {load:.2f}")
    print(f"engine alone (baseline):    {baseline:6.2f} s")
    print(
        f"full render:                {full.wall:6.2f} s  "
        f"({full.wall / baseline:.2f}x the engine alone)"
    )
    ok_one = one / full.wall <= ONE_LINE_TARGET
    ok_noop = noop <= NOOP_TARGET_S
    print(
        f"one line changed:           {one:6.2f} s  ({one / full.wall:.3f} of the full render; "
        f"target <= {ONE_LINE_TARGET}) {'ok' if ok_one else 'MISSED'}  {_spread(ones)}"
    )
    print(
        f"  the same, not scored:     {one_unscored:6.2f} s  ({one_unscored / full.wall:.3f} of "
        f"the full render: the rest is the scorers' start-up, refmgr[qa])  {_spread(unscored)}"
    )
    print(
        f"no-op, all {LINES} lines:      {noop:6.2f} s  ({noop / full.wall:.3f} of the full "
        f"render; target <= {NOOP_TARGET_S:g} s) {'ok' if ok_noop else 'MISSED'}  "
        f"{_spread(noops)}"
    )
    # CPU time is less at the mercy of other processes on the machine than wall time.
    one_cpu = statistics.median(r.cpu for r in ones)
    noop_cpu = statistics.median(r.cpu for r in noops)
    print(
        f"cpu time: full {full.cpu:.2f} s, one line {one_cpu:.2f} s "
        f"({one_cpu / full.cpu:.3f}), no-op {noop_cpu:.2f} s ({noop_cpu / full.cpu:.3f})"
    )
    page, page_cached = statistics.median(page_times), statistics.median(page_cached_times)
    ok_page = page <= REPORT_TARGET_S
    ok_cached = page_cached <= REPORT_CACHED_TARGET_S
    for label, seconds, target, ok, times in (
        ("review page, no pictures cached:", page, REPORT_TARGET_S, ok_page, page_times),
        (
            "review page, pictures cached:   ",
            page_cached,
            REPORT_CACHED_TARGET_S,
            ok_cached,
            page_cached_times,
        ),
    ):
        print(
            f"{label} {seconds:6.2f} s  ({seconds / target:.2f} of the target {target:g} s; "
            f"{seconds / full.wall:.3f} of the full render) {'ok' if ok else 'MISSED'}  "
            f"[median of {len(times)}: {min(times):.2f}-{max(times):.2f} s]"
        )
    return 0 if ok_one and ok_noop and ok_page and ok_cached else 1


if __name__ == "__main__":
    raise SystemExit(main())
