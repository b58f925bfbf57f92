"""Quality scorers: reference admission time, and how far apart the fixture voices score.

    python benchmarks/bench_quality.py [--only admission|separation|render] [--seconds 30]

admission: measuring a 30 s reference (every admission measure and the speaker embedding)
  warm (scorers loaded, median of 3; target <= 3 s on 2 CPU cores), the cold start of a
  fresh process printed separately, the time of each scorer, and `refmgr add` with the
  measurement against `refmgr add --no-quality` on the same recording (same run).
render: a 200-line draft render from scratch (`python -m refmgr render`, start-up
  included) with every line scored as a draft render is by default (REFMGR_QUALITY=on:
  loudness, true peak, clipping, edge silence, duration; the speaker embedding and DNSMOS
  are for clone engines) against the same render unscored (REFMGR_QUALITY=off), as a ratio
  of medians (target <= 1.3); then a no-op render of the 200 scored lines (target <= 1 s,
  no scorer call). --render-full adds one render with the speaker embedding on every line
  and one with DNSMOS too ([quality.render] speaker/dnsmos = "always"), to show their cost.
separation: GE2E cosine similarity of the committed flite voices (tests/fixtures/voices):
  same voice (two different sentences) against different voices, and the single-speaker
  consistency of one voice against two voices joined.

Needs refmgr[qa] (make bench installs it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
VOICES_DIR = ROOT / "tests" / "fixtures" / "voices"
VOICES = ("slt", "rms", "awb", "kal")
RATE = 16000
ADMISSION_TARGET_S = 3.0


def clip(name: str) -> np.ndarray:
    audio, rate = sf.read(VOICES_DIR / f"{name}.flac", dtype="float32")
    assert rate == RATE
    return audio


def transcript(name: str) -> str:
    return (VOICES_DIR / f"{name}.lab").read_text().strip()


def long_reference(voice: str, seconds: float) -> tuple[np.ndarray, str]:
    """``seconds`` of one voice: its two sentences in turn, with a breath between."""
    pause = np.zeros(int(0.3 * RATE), dtype=np.float32)
    parts, texts, total = [], [], 0
    for key in itertools.cycle("ab"):
        if total >= seconds * RATE:
            break
        parts += [clip(f"{voice}_{key}"), pause]
        texts.append(transcript(f"{voice}_{key}"))
        total += len(parts[-2]) + len(pause)
    return np.concatenate(parts)[: int(seconds * RATE)], " ".join(texts)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


COLD = """
import sys, time
t0 = time.perf_counter()
import soundfile as sf
from refmgr.quality.reference import measure_reference
audio, rate = sf.read(sys.argv[1], dtype="float32")
measure_reference(audio, rate, open(sys.argv[2]).read())
print(time.perf_counter() - t0)
"""


def bench_admission(seconds: float) -> bool:
    from refmgr.quality.reference import measure_reference, shared_meter

    audio, text = long_reference("slt", seconds)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        wav, lab = base / "slt.wav", base / "slt.lab"
        sf.write(wav, audio, RATE, subtype="PCM_16")
        lab.write_text(text)
        cold = float(
            subprocess.run(
                [sys.executable, "-c", COLD, str(wav), str(lab)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        add = {}
        for flag in ("--no-quality", "--quality"):
            repo = base / flag.strip("-")
            subprocess.run(
                [sys.executable, "-m", "refmgr", "init", str(repo)], check=True, capture_output=True
            )
            add[flag] = timed(
                lambda repo=repo, flag=flag: subprocess.run(
                    [sys.executable, "-m", "refmgr", "add", str(wav), flag],
                    cwd=repo,
                    check=True,
                    capture_output=True,
                )
            )

    meter = shared_meter()
    load = timed(meter.load)
    measure_reference(audio, RATE, text)  # warm-up: numba compiles librosa's kernels
    cpu0 = time.process_time()
    warm = statistics.median(timed(lambda: measure_reference(audio, RATE, text)) for _ in range(3))
    cpu = (time.process_time() - cpu0) / 3
    speech = meter.vad.speech_frames(audio)
    parts = {
        "voice activity (webrtcvad)": timed(lambda: meter.vad.speech_frames(audio)),
        "speaker embedding + consistency (resemblyzer)": timed(
            lambda: meter.speaker.analyse(audio)
        ),
        "DNSMOS (speechmos/onnxruntime)": timed(lambda: meter.dnsmos.score(audio)),
        "loudness + true peak (pyloudnorm)": timed(
            lambda: (
                meter.loudness.integrated_lufs(audio, RATE),
                meter.loudness.true_peak_db(audio),
            )
        ),
    }
    del speech
    load1 = os.getloadavg()[0]
    print(
        f"admission of a {seconds:.0f} s reference (16 kHz), this machine "
        f"({os.cpu_count()} CPUs, load average {load1:.1f} at the end):"
    )
    print(f"  cold start (fresh process: imports, weights, JIT, one measure): {cold:.2f} s")
    print(f"  scorer load in this process (imports and weights):             {load:.2f} s")
    ok = warm <= ADMISSION_TARGET_S
    print(
        f"  warm, median of 3: {warm:.2f} s (target <= {ADMISSION_TARGET_S:.0f} s: "
        f"{'ok' if ok else 'MISSED'}), {warm / seconds:.3f} s per second of audio; "
        f"CPU time {cpu:.2f} s a run (all threads)"
    )
    for name, t in parts.items():
        print(f"    {name:48s} {t:.2f} s")
    ratio = add["--quality"] / add["--no-quality"]
    print(
        f"  refmgr add (fresh process each): --no-quality {add['--no-quality']:.2f} s, "
        f"--quality {add['--quality']:.2f} s ({ratio:.1f}x)"
    )
    return ok


def bench_separation(seconds: float) -> bool:
    from refmgr.quality.speaker import SpeakerEncoder, cosine

    encoder = SpeakerEncoder()
    names = [f"{v}_{k}" for v in VOICES for k in "ab"]
    emb = {n: encoder.embed(clip(n)) for n in names}
    same = {v: cosine(emb[f"{v}_a"], emb[f"{v}_b"]) for v in VOICES}
    different = {
        (a, b): cosine(emb[a], emb[b])
        for a, b in itertools.combinations(names, 2)
        if a[:3] != b[:3]
    }
    print("speaker separation on the flite fixture voices (GE2E cosine, one sentence each):")
    print("  same voice, different sentence: " + ", ".join(f"{v} {s:.3f}" for v, s in same.items()))
    lo, hi = min(different, key=different.__getitem__), max(different, key=different.__getitem__)
    print(
        f"  different voices ({len(different)} pairs): {different[lo]:.3f} ({lo[0]}/{lo[1]}) "
        f"to {different[hi]:.3f} ({hi[0]}/{hi[1]})"
    )
    gap = min(same.values()) - max(different.values())
    print(f"  gap (lowest same - highest different): {gap:.3f}")

    pause = np.zeros(int(0.3 * RATE), dtype=np.float32)
    one = {
        v: encoder.analyse(np.concatenate([clip(f"{v}_a"), pause, clip(f"{v}_b")]))[1]
        for v in VOICES
    }
    two = {
        (a, b): encoder.analyse(np.concatenate([clip(f"{a}_a"), pause, clip(f"{b}_b")]))[1]
        for a in VOICES
        for b in VOICES
        if a != b
    }
    print("single-speaker consistency (lowest similarity between ~4 s windows, ~10 s clips):")
    print("  one voice:  " + ", ".join(f"{v} {c:.3f}" for v, c in one.items()))
    worst = max(two, key=lambda k: two[k] or 0.0)
    print(
        f"  two voices joined ({len(two)} ordered pairs): {min(c or 0 for c in two.values()):.3f} "
        f"to {two[worst]:.3f} ({worst[0]}+{worst[1]})"
    )
    return gap > 0


RENDER_LINES = 200
RENDER_TARGET = 1.3
NOOP_TARGET_S = 1.0
WORDS = ("lamp", "sea", "ship", "rock", "tide", "gull", "wind", "rope", "bell", "storm")


def _render_repository(root: Path) -> None:
    """A voice repository of two flite voices, measured at admission, and a 200-line script."""
    pause = np.zeros(int(0.3 * RATE), dtype=np.float32)
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "refmgr", "init", str(root)], check=True)
    for voice in ("slt", "kal"):
        wav = root.parent / f"{voice}.wav"
        sf.write(wav, np.concatenate([clip(f"{voice}_a"), pause, clip(f"{voice}_b")]), RATE)
        text = f"{transcript(f'{voice}_a')} {transcript(f'{voice}_b')}"
        subprocess.run(
            [sys.executable, "-m", "refmgr", "add", str(wav), "--text", text, "--quality"],
            cwd=root,
            check=True,
            capture_output=True,
        )
    lines = [
        f"{'slt' if i % 2 else 'kal'}: Line {i}: the {WORDS[i % len(WORDS)]} and the "
        f"{WORDS[(i * 7) % len(WORDS)]} are quiet tonight."
        for i in range(1, RENDER_LINES + 1)
    ]
    (root / "episode.txt").write_text("\n".join(lines) + "\n")


def _render(root: Path, quality: str, *extra: str) -> tuple[float, float, dict[str, object]]:
    """(wall s, CPU s of refmgr and its eSpeak processes, --json summary) of one render."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "render", "episode.txt", "--json", *extra],
        cwd=root,
        env={**os.environ, "REFMGR_QUALITY": quality},
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary: dict[str, object] = json.loads(proc.stdout)
    return wall, cpu, summary


def _median(
    runs: list[tuple[float, float, dict[str, object]]],
) -> tuple[float, float, dict[str, object]]:
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def bench_render(seconds: float, *, full: bool = False, trials: int = 3) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "voices"
        _render_repository(root)
        runs: dict[str, list[tuple[float, float, dict[str, object]]]] = {}
        # Alternately, each from no outputs at all, so that the machine's other work
        # weighs on both alike; the median of each is compared.
        for _ in range(trials):
            for label, quality in (("unscored", "off"), ("scored", "on")):
                shutil.rmtree(root / "renders", ignore_errors=True)
                shutil.rmtree(root / ".refmgr", ignore_errors=True)
                runs.setdefault(label, []).append(_render(root, quality))
        results = {label: _median(found) for label, found in runs.items()}
        noop_wall, _, noop = _render(root, "on")
        if full:
            config = root / "refmgr.toml"
            for label, setting in (("speaker", "speaker"), ("speaker + DNSMOS", "dnsmos")):
                text = config.read_text().replace(f'{setting} = "clone"', f'{setting} = "always"')
                config.write_text(text)
                shutil.rmtree(root / "renders", ignore_errors=True)
                shutil.rmtree(root / ".refmgr", ignore_errors=True)
                results[f"scored, {label}"] = _render(root, "on")
    base_wall = results["unscored"][0]
    print(
        f"render of {RENDER_LINES} draft lines from scratch, this machine ({os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at the end):"
    )
    for label, (wall, cpu, summary) in results.items():
        quality = summary["quality"]
        assert isinstance(quality, dict)
        scored = quality["scored_now"]
        print(
            f"  {label:26s} {wall:6.1f} s wall ({wall / base_wall:.2f}x), CPU {cpu:6.1f} s, "
            f"{scored} outputs scored"
        )
    ratio = results["scored"][0] / base_wall
    cpu_ratio = results["scored"][1] / results["unscored"][1]
    ok = ratio <= RENDER_TARGET
    print(
        f"  scoring overhead (medians of {trials}): {ratio:.2f}x wall (target <= "
        f"{RENDER_TARGET}: {'ok' if ok else 'MISSED'}), {cpu_ratio:.2f}x CPU; the scorer runs "
        "beside the engine, so the wall ratio falls toward 1 as a core is free for it"
    )
    noop_quality = noop["quality"]
    assert isinstance(noop_quality, dict)
    noop_ok = noop_wall <= NOOP_TARGET_S and noop_quality["scored_now"] == 0
    print(
        f"  no-op render of the {RENDER_LINES} scored lines: {noop_wall:.2f} s wall, "
        f"{noop_quality['scored_now']} scored (target <= {NOOP_TARGET_S:.0f} s and none: "
        f"{'ok' if noop_ok else 'MISSED'})"
    )
    return ok and noop_ok


SECTIONS: dict[str, Callable[[float], bool]] = {
    "separation": bench_separation,
    "admission": bench_admission,
    "render": bench_render,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append")
    parser.add_argument("--seconds", type=float, default=30.0, help="reference length")
    parser.add_argument(
        "--render-full",
        action="store_true",
        help="render: also with the speaker embedding, then DNSMOS, on every draft line",
    )
    parser.add_argument("--trials", type=int, default=3, help="render: renders of each kind")
    args = parser.parse_args()
    ok = True
    for name in args.only or list(SECTIONS):
        if name == "render":
            ok = bench_render(args.seconds, full=args.render_full, trials=args.trials) and ok
        else:
            ok = SECTIONS[name](args.seconds) and ok
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
