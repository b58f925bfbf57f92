"""Long lines in chunks, with the draft engine: what an edit of one sentence costs.

    python benchmarks/bench_chunks.py [--chars 3000]

A fresh voice repository with one line of about 3,000 characters (13 sentences). Prints,
from one run, medians of 3 in-process renders each:

- the engine alone speaking the whole text at once (what a render did before chunking),
  and the first render of the line in chunks: chunking's overhead;
- after one sentence is edited: the re-render with the chunk cache (one chunk spoken),
  not scored (REFMGR_QUALITY=off),
  against the same re-render with the cache emptied first (every chunk spoken, as a line
  without per-chunk caching would): target <= 0.35.

Exits 1 if the target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile

from refmgr.backends.espeak import Voice, speak_float
from refmgr.backends.registry import load_engine
from refmgr.commands.add import add_references
from refmgr.commands.init import init_repository
from refmgr.commands.render import RenderOptions, plan_render, render_script
from refmgr.params import DEFAULTS
from refmgr.project import open_project

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.render, when run as a script
from tests.support.render import long_text  # noqa: E402  (the tests' long line, edits and all)

TRIALS = 3
EDIT_TARGET = 0.35
READING = (
    "The quick brown fox jumps over the lazy dog while the band plays a slow waltz under "
    "the old bridge, and everyone on the river bank stops to listen."
)
def make_repository(root: Path, chars: int) -> None:
    init_repository(root)
    project = open_project(root)
    wav = root.parent / "alpha.wav"
    soundfile.write(wav, speak_float(READING, 44100, Voice("en-us")), 44100)
    add_references(project, [wav], text=READING, language="en", quality=False)
    config = root / "refmgr.toml"
    config.write_text(
        config.read_text().replace("max_line_chars = 10000", f"max_line_chars = {chars + 500}")
    )
    (root / "ep.txt").write_text(f"[long] alpha: {long_text(chars)}\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@invalid"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@invalid"}
    for args in (["add", "-A"], ["commit", "-qm", "voices"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)


def timed_render(root: Path, *, force: bool = False) -> float:
    start = time.perf_counter()
    options = RenderOptions(force=force)
    result = render_script(open_project(root), root / "ep.txt", options=options)
    elapsed = time.perf_counter() - start
    if not result.ok or not result.run.rendered:
        raise SystemExit("the render failed or rendered nothing")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=3000)
    chars = parser.parse_args().chars
    # Speech only: with refmgr[qa] installed a render also scores the line it renders, the
    # whole joined line whatever number of chunks was spoken (benchmarks/bench_quality.py).
    os.environ["REFMGR_QUALITY"] = "off"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "voices"
        make_repository(root, chars)
        project = open_project(root)
        plan = plan_render(project, root / "ep.txt")
        (step,) = plan.steps
        voice = plan.cast.members["alpha"].voice
        engine = load_engine("draft")
        whole = []
        for _ in range(TRIALS):
            start = time.perf_counter()
            engine.synthesize(voice, long_text(chars), DEFAULTS)
            whole.append(time.perf_counter() - start)

        chunks = root / "renders" / "ep" / ".chunks"
        first, cached, uncached = [], [], []
        script = root / "ep.txt"
        for trial in range(TRIALS):
            shutil.rmtree(chunks, ignore_errors=True)
            script.write_text(f"[long] alpha: {long_text(chars)}\n")
            first.append(timed_render(root, force=True))
            # One sentence edited (another each trial): one chunk to speak.
            script.write_text(f"[long] alpha: {long_text(chars, edited=2 + trial)}\n")
            cached.append(timed_render(root))
            # The same edit with nothing cached: every chunk spoken again.
            shutil.rmtree(chunks)
            uncached.append(timed_render(root, force=True))

    def median(values: list[float]) -> float:
        return statistics.median(values)

    ratio = median(cached) / median(uncached)
    print(f"line: {len(long_text(chars))} characters, {len(step.chunks)} chunks")
    print(f"engine alone, whole text at once: {median(whole):.2f} s")
    print(
        f"first render in chunks:           {median(first):.2f} s "
        f"({median(first) / median(whole):.2f}x the engine alone)"
    )
    print(f"one sentence edited, cache:       {median(cached):.2f} s")
    print(f"one sentence edited, no cache:    {median(uncached):.2f} s")
    print(f"edit ratio (cache / no cache):    {ratio:.3f} (target <= {EDIT_TARGET})")
    return 0 if ratio <= EDIT_TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
