"""Fish Speech (fish-s1): refmgr against fish-speech's own entry points, side by side in one run.

    python benchmarks/bench_fish.py                       # tiny random-weight checkpoint, CPU
    python benchmarks/bench_fish.py --device cuda --checkpoint checkpoints/openaudio-s1-mini

(1) Encoding: N clips added in ONE `refmgr add --codec fish-s1` call, against fish-speech's
    encode entry point (`python -m fish_speech.models.dac.inference`) run once per clip.
(2) Rendering: time per line from the committed tokens (refmgr's engine, model loaded
    once), against fish-speech's TTSInferenceEngine given the reference *audio* with every
    request (use_memory_cache="off"), i.e. re-encoding the reference each time. Start-up is
    compared like for like: imports, model load (and, for refmgr, verifying the pinned
    checkpoint hashes) and the first line are timed separately on both sides.
(3) Batching: --batch-lines lines in one voice through refmgr's batched engine
    (synthesize_many, batch 1, 4, 8, 16) against the sequential path (upstream's
    generate_long, one line at a time, then decode), each in its own process: lines/s,
    frames/s, audio seconds per wall second, peak RSS (and GPU memory on cuda).

Every side runs in its own process; peak memory is that process's max RSS (os.wait4).
Without --checkpoint, a tiny checkpoint is built with tests/support/fishkit.py; on a machine
without torchaudio, tests/stubs stands in for it (as in the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.fishkit, when run as a script

TRANSCRIPT = "The lighthouse keeper climbs the steps to the lamp room every evening."
LINES = [
    "Good evening, and welcome to the harbour.",
    "The boats came in early today, ahead of the storm.",
    "I kept the lamp burning until the morning light.",
    "Nobody remembers who built the old stone bridge.",
    "Tomorrow we sail for the northern islands.",
]


def run_rss(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run CMD and return (wall s, peak RSS MB, stdout), RSS from os.wait4 for that child."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read()[-3000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()


def make_clips(directory: Path, n: int, seconds: float) -> list[Path]:
    import numpy as np
    import soundfile

    from refmgr.backends.espeak import Voice, speak_float

    directory.mkdir(parents=True)
    clips = []
    for i in range(n):
        voice = Voice("en-us", rate_wpm=150 + 5 * (i % 8), pitch=40 + i % 20)
        audio = np.resize(speak_float(TRANSCRIPT, 44100, voice), int(seconds * 44100))
        clip = directory / f"clip{i:02d}.wav"
        soundfile.write(clip, audio, 44100, subtype="PCM_16")
        clip.with_suffix(".lab").write_text(TRANSCRIPT)
        clips.append(clip)
    return clips


def environment(config_dir: Path | None, device: str, stubs: bool) -> dict[str, str]:
    env = dict(os.environ)
    extra = []
    if stubs:
        extra.append(str(ROOT / "tests" / "stubs"))
    extra.append(str(ROOT))
    env["PYTHONPATH"] = os.pathsep.join([*extra, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if config_dir is not None:
        env["REFMGR_TEST_FISH_CONFIG_DIR"] = str(config_dir)
    if device == "cpu":
        env.setdefault("OMP_NUM_THREADS", "1")
    return env


# --- workers: each runs in its own process ---------------------------------------------------


def params_for(seed: int, tokens: int) -> Any:
    from refmgr.params import SynthesisParams

    return SynthesisParams(
        seed=seed, temperature=0.7, top_p=0.7, repetition_penalty=1.2, max_new_tokens=tokens
    )


def worker_refmgr_lines(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    import refmgr.backends.fish._adapter as adapter
    from refmgr.backends.registry import ENGINES
    from refmgr.checkpoints import RunOptions, open_engine
    from refmgr.project import open_project
    from refmgr.reference import load_reference, voice_reference

    # What the engine imports on its first line, imported here to time it on its own.
    adapter.codec_module("fish-s1")
    adapter._import("fish_speech.models.text2semantic.inference", "fish-s1")
    imports = time.perf_counter() - started

    started = time.perf_counter()
    project = open_project(Path(args.repo))
    engine, _ = open_engine(project, ENGINES["fish-s1"], RunOptions(device=args.device))
    # What a render does before loading: the pinned checkpoint hashes checked, and the
    # engine's pins (the codec config's hash among them) computed for the cache keys.
    engine.pins()
    verify = time.perf_counter() - started
    started = time.perf_counter()
    engine._loaded()  # type: ignore[attr-defined]
    load = time.perf_counter() - started
    times = []
    for i, line in enumerate(LINES[: args.lines]):
        t = time.perf_counter()
        # What the render pipeline does per line: read and verify the committed tokens.
        reference = voice_reference(project, load_reference(project, "clip00"))
        engine.synthesize(reference, line, params_for(i, args.tokens))
        times.append(time.perf_counter() - t)
    engine.close()
    return {
        "import_s": imports,
        "verify_s": verify,
        "load_s": load,
        "first_s": times[0],
        "line_s": times[1:],
    }


def worker_refmgr_batch(args: argparse.Namespace) -> dict[str, Any]:
    """BATCH lines per batch through synthesize_many; batch 0: the sequential path."""
    import torch

    from refmgr.backends.base import LineRequest, Synthesis
    from refmgr.backends.registry import ENGINES
    from refmgr.checkpoints import RunOptions, open_engine
    from refmgr.project import open_project
    from refmgr.reference import load_reference, voice_reference

    project = open_project(Path(args.repo))
    engine, _ = open_engine(project, ENGINES["fish-s1"], RunOptions(device=args.device))
    codec, llm = engine._loaded()  # type: ignore[attr-defined]
    reference = voice_reference(project, load_reference(project, "clip00"))
    texts = [LINES[i % len(LINES)] for i in range(args.batch_lines)]
    requests = [LineRequest(reference, t, params_for(i, args.tokens)) for i, t in enumerate(texts)]
    codes = torch.from_numpy(reference.codes.astype("int64"))
    warm = params_for(99, 4)
    if args.batch:
        engine.max_batch = args.batch  # type: ignore[attr-defined]
        list(engine.synthesize_many([LineRequest(reference, LINES[0], warm)]))  # type: ignore[attr-defined]
    else:
        llm.generate(LINES[0], reference.transcript, codes, warm)
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    walls = []
    for _ in range(args.repeat):  # the best of REPEAT runs: this machine may be shared
        started = time.perf_counter()
        samples = 0
        if args.batch:
            for _, result in engine.synthesize_many(requests):  # type: ignore[attr-defined]
                assert isinstance(result, Synthesis), result
                samples += len(result.audio)
        else:  # refmgr's path before batching: upstream's generate_long per line, then decode
            for request in requests:
                (segment,) = llm.generate(request.text, reference.transcript, codes, request.params)
                samples += len(codec.decode(segment))
        walls.append(time.perf_counter() - started)
    wall = min(walls)
    gpu = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else 0.0
    engine.close()
    return {"wall_s": wall, "samples": samples, "gpu_mb": gpu}


def worker_upstream_lines(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    import torch
    from fish_speech.inference_engine import TTSInferenceEngine
    from fish_speech.models.dac.inference import load_model
    from fish_speech.models.text2semantic.inference import launch_thread_safe_queue
    from fish_speech.utils.schema import ServeReferenceAudio, ServeTTSRequest
    from loguru import logger

    logger.remove()
    imports = time.perf_counter() - started
    device = "cuda" if args.device == "cuda" else "cpu"
    precision = torch.bfloat16 if device == "cuda" else torch.float32
    checkpoint = Path(args.checkpoint)
    started = time.perf_counter()
    queue = launch_thread_safe_queue(
        checkpoint_path=str(checkpoint), device=device, precision=precision, compile=False
    )
    decoder = load_model(args.codec_config, str(checkpoint / "codec.pth"), device=device)
    engine = TTSInferenceEngine(
        llama_queue=queue, decoder_model=decoder, precision=precision, compile=False
    )
    load = time.perf_counter() - started
    audio = Path(args.reference).read_bytes()
    times = []
    for i, line in enumerate(LINES[: args.lines]):
        t = time.perf_counter()
        request = ServeTTSRequest(
            text=line,
            references=[ServeReferenceAudio(audio=audio, text=TRANSCRIPT)],
            use_memory_cache="off",
            seed=i,
            max_new_tokens=args.tokens,
            top_p=0.7,
            temperature=0.7,
            repetition_penalty=1.2,
        )
        for result in engine.inference(request):
            if result.code == "error":
                raise RuntimeError(result.error)
        times.append(time.perf_counter() - t)
    return {"import_s": imports, "load_s": load, "first_s": times[0], "line_s": times[1:]}


# --- the comparison --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--checkpoint", type=Path, help="a real openaudio-s1-mini directory")
    parser.add_argument("--codec-config", default=None, help="Hydra codec config name")
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=32, help="max_new_tokens per line")
    parser.add_argument("--batch-lines", type=int, default=16, help="lines for (3)")
    parser.add_argument("--repeat", type=int, default=3, help="(3): the best of N runs")
    parser.add_argument(
        "--batches", default="1,4,8,16", help="batch sizes for (3), comma-separated"
    )
    parser.add_argument(
        "--size",
        choices=["tiny", "real"],
        default="tiny",
        help="random-weight checkpoint: tiny, or the real S1-mini layout (for GPUs)",
    )
    parser.add_argument("--skip-encode", action="store_true", help="skip (1)")
    parser.add_argument("--only-batch", action="store_true", help="run (3) only")
    parser.add_argument("--worker", choices=["refmgr-lines", "upstream-lines", "refmgr-batch"])
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--repo")
    parser.add_argument("--reference")
    args = parser.parse_args()
    if args.worker:
        if args.device == "cpu":
            import torch

            torch.set_num_threads(1)
        work = {
            "refmgr-lines": worker_refmgr_lines,
            "upstream-lines": worker_upstream_lines,
            "refmgr-batch": worker_refmgr_batch,
        }[args.worker]
        print(json.dumps(work(args)))
        return 0

    import importlib.util

    stubs = importlib.util.find_spec("torchaudio") is None  # before fishkit adds the stand-in
    with tempfile.TemporaryDirectory(prefix="bench_fish_") as tmp:
        base = Path(tmp)
        config_dir: Path | None = None
        if args.checkpoint is None:
            from tests.support import fishkit

            fishkit.enable_stubs()
            config_dir = base / "configs"
            os.environ["REFMGR_TEST_FISH_CONFIG_DIR"] = str(config_dir)
            args.checkpoint = base / "openaudio-s1-mini"
            fishkit.build_s1(args.checkpoint, config_dir, size=args.size)
            args.codec_config = args.codec_config or fishkit.TINY_S1_CODEC_CONFIG
            kind = f"{args.size} random-weight checkpoint"
        else:
            kind = f"checkpoint {args.checkpoint}"
        args.codec_config = args.codec_config or "modded_dac_vq"
        env = environment(config_dir, args.device, stubs)
        refmgr = [sys.executable, "-m", "refmgr"]
        clips = make_clips(base / "clips", args.clips + 1, args.seconds)

        repo = base / "voices"
        subprocess.run([*refmgr, "init", str(repo)], check=True, capture_output=True, env=env)
        with open(repo / "refmgr.toml", "a") as f:
            f.write(f'\n[models.fish-s1]\ncodec_config = "{args.codec_config}"\n')
        subprocess.run(
            [*refmgr, "model", "pin", "fish-s1", str(args.checkpoint)],
            check=True,
            capture_output=True,
            env=env,
            cwd=repo,
        )
        # clip00: the voice (2) and (3) speak in; (1) encodes the other clips.
        subprocess.run(
            [*refmgr, "add", str(clips[0]), "--codec", "fish-s1", "--device", args.device],
            check=True,
            capture_output=True,
            env=env,
            cwd=repo,
        )

        me = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--device",
            args.device,
            "--lines",
            str(args.lines),
            "--tokens",
            str(args.tokens),
        ]
        print(
            f"fish-s1 on {args.device}, {kind}; {args.clips} clips of {args.seconds:g} s; "
            f"{args.lines} lines of {args.tokens} max new tokens"
        )
        if not (args.skip_encode or args.only_batch):
            encode(args, refmgr, clips, env, repo, base)
        if not args.only_batch:
            render(args, me, env, repo, base, clips[0])
        batched(args, me, env, repo)
    return 0


def encode(
    args: argparse.Namespace,
    refmgr: list[str],
    clips: list[Path],
    env: dict[str, str],
    repo: Path,
    base: Path,
) -> None:
    """(1) encoding: refmgr add in one call vs fish-speech's encode CLI once per clip."""
    add_s, add_mb, _ = run_rss(
        [*refmgr, "add", *map(str, clips[1:]), "--codec", "fish-s1", "--device", args.device],
        env,
        repo,
    )
    upstream_s, upstream_mb = 0.0, 0.0
    for clip in clips[1:]:
        s, mb, _ = run_rss(
            [
                sys.executable,
                "-m",
                "fish_speech.models.dac.inference",
                "-i",
                str(clip),
                "-o",
                str(base / f"{clip.stem}-upstream.wav"),
                "--config-name",
                args.codec_config,
                "--checkpoint-path",
                str(args.checkpoint / "codec.pth"),
                "-d",
                args.device,
            ],
            env,
            base,
        )
        upstream_s += s
        upstream_mb = max(upstream_mb, mb)
    n = len(clips) - 1
    print(
        f"(1) encode {n} clips: refmgr add, one call {add_s:.2f} s "
        f"(peak RSS {add_mb:.0f} MB) vs fish-speech encode CLI once per file {upstream_s:.2f} s "
        f"(peak RSS {upstream_mb:.0f} MB per process): refmgr {upstream_s / add_s:.1f}x faster"
    )


def render(
    args: argparse.Namespace,
    me: list[str],
    env: dict[str, str],
    repo: Path,
    base: Path,
    clip: Path,
) -> None:
    """(2) per-line rendering and start-up, phase by phase, refmgr vs TTSInferenceEngine."""
    _, ours_mb, out = run_rss([*me, "--worker", "refmgr-lines", "--repo", str(repo)], env, repo)
    ours = json.loads(out.splitlines()[-1])
    _, theirs_mb, out = run_rss(
        [
            *me,
            "--worker",
            "upstream-lines",
            "--checkpoint",
            str(args.checkpoint),
            "--codec-config",
            args.codec_config,
            "--reference",
            str(clip),
        ],
        env,
        base,
    )
    theirs = json.loads(out.splitlines()[-1])
    ours_line = statistics.median(ours["line_s"])
    theirs_line = statistics.median(theirs["line_s"])
    print(
        f"(2) per rendered line (median of lines 2..{args.lines}): refmgr from committed "
        f"tokens {ours_line:.3f} s (peak RSS {ours_mb:.0f} MB) vs TTSInferenceEngine with "
        f"reference audio, cache off {theirs_line:.3f} s (peak RSS {theirs_mb:.0f} MB): "
        f"refmgr {theirs_line / ours_line:.2f}x faster per line"
    )
    print(
        f"    start-up, refmgr vs upstream: imports {ours['import_s']:.2f} s vs "
        f"{theirs['import_s']:.2f} s; model load {ours['load_s']:.2f} s vs "
        f"{theirs['load_s']:.2f} s (ratio {ours['load_s'] / theirs['load_s']:.2f}); first line "
        f"{ours['first_s']:.2f} s vs {theirs['first_s']:.2f} s; refmgr also verifies the "
        f"pinned checkpoint and hashes the codec config for the pins: {ours['verify_s']:.2f} s"
    )


def batched(args: argparse.Namespace, me: list[str], env: dict[str, str], repo: Path) -> None:
    """(3) lines/s through synthesize_many at each batch size vs the sequential path."""
    runs: dict[int, tuple[dict[str, Any], float]] = {}
    for size in [0, *(int(b) for b in args.batches.split(","))]:
        command = [*me, "--worker", "refmgr-batch", "--repo", str(repo)]
        command += ["--batch", str(size), "--batch-lines", str(args.batch_lines)]
        command += ["--repeat", str(args.repeat)]
        _, mb, out = run_rss(command, env, repo)
        runs[size] = (json.loads(out.splitlines()[-1]), mb)
    base, _ = runs[0]
    base_rate = args.batch_lines / base["wall_s"]
    print(
        f"(3) {args.batch_lines} lines in one voice, up to {args.tokens} new tokens each, "
        f"best of {args.repeat} runs; "
        f"sequential (upstream generate_long per line) {base_rate:.2f} lines/s"
    )
    for size, (run, mb) in runs.items():
        rate = args.batch_lines / run["wall_s"]
        frames = run["samples"] / 2048
        audio_s = run["samples"] / 44100
        gpu = f", GPU peak {run['gpu_mb']:.0f} MB" if args.device == "cuda" else ""
        name = "sequential" if size == 0 else f"batch {size:2d}"
        print(
            f"    {name}: {rate:.2f} lines/s ({rate / base_rate:.2f}x sequential), "
            f"{frames / run['wall_s']:.1f} frames/s, {audio_s / run['wall_s']:.2f} s of audio "
            f"per s (RTF {run['wall_s'] / audio_s:.3f}), peak RSS {mb:.0f} MB{gpu}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
