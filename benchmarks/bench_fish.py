"""Fish Speech (fish-s1): refmgr against fish-speech's own entry points, side by side in one run.

    python benchmarks/bench_fish.py                       # tiny random-weight checkpoint, CPU
    python benchmarks/bench_fish.py --device cuda --checkpoint checkpoints/openaudio-s1-mini

(1) Encoding: N clips added in ONE `refmgr add --codec fish-s1` call, against fish-speech's
    encode entry point (`python -m fish_speech.models.dac.inference`) run once per clip.
(2) Rendering: time per line from the committed tokens (refmgr's engine, model loaded
    once), against fish-speech's TTSInferenceEngine given the reference *audio* with every
    request (use_memory_cache="off"), i.e. re-encoding the reference each time.

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


def worker_refmgr_lines(args: argparse.Namespace) -> dict[str, Any]:
    from refmgr.backends.registry import ENGINES
    from refmgr.checkpoints import RunOptions, open_engine
    from refmgr.params import SynthesisParams
    from refmgr.project import open_project
    from refmgr.reference import load_reference, voice_reference

    project = open_project(Path(args.repo))

    def params(seed: int) -> SynthesisParams:
        return SynthesisParams(
            seed=seed,
            temperature=0.7,
            top_p=0.7,
            repetition_penalty=1.2,
            max_new_tokens=args.tokens,
        )

    started = time.perf_counter()
    engine, _ = open_engine(project, ENGINES["fish-s1"], RunOptions(device=args.device))
    # Models load on the first line; load it here, as upstream's engine loads up front.
    warm = voice_reference(project, load_reference(project, "clip00"))
    engine.synthesize(warm, LINES[0], params(0))
    load = time.perf_counter() - started
    times = []
    for i, line in enumerate(LINES[: args.lines]):
        t = time.perf_counter()
        # What the render pipeline does per line: read and verify the committed tokens.
        reference = voice_reference(project, load_reference(project, "clip00"))
        engine.synthesize(reference, line, params(i))
        times.append(time.perf_counter() - t)
    engine.close()
    return {"load_s": load, "line_s": times}


def worker_upstream_lines(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from fish_speech.inference_engine import TTSInferenceEngine
    from fish_speech.models.dac.inference import load_model
    from fish_speech.models.text2semantic.inference import launch_thread_safe_queue
    from fish_speech.utils.schema import ServeReferenceAudio, ServeTTSRequest
    from loguru import logger

    logger.remove()
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
    return {"load_s": load, "line_s": times}


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
    parser.add_argument("--worker", choices=["refmgr-lines", "upstream-lines"])
    parser.add_argument("--repo")
    parser.add_argument("--reference")
    args = parser.parse_args()
    if args.worker:
        if args.device == "cpu":
            import torch

            torch.set_num_threads(1)
        work = worker_refmgr_lines if args.worker == "refmgr-lines" else worker_upstream_lines
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
            fishkit.build_s1(args.checkpoint, config_dir)
            args.codec_config = args.codec_config or fishkit.TINY_S1_CODEC_CONFIG
            kind = "tiny random-weight checkpoint"
        else:
            kind = f"checkpoint {args.checkpoint}"
        args.codec_config = args.codec_config or "modded_dac_vq"
        env = environment(config_dir, args.device, stubs)
        refmgr = [sys.executable, "-m", "refmgr"]
        clips = make_clips(base / "clips", args.clips, args.seconds)

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

        # (1) encoding
        add_s, add_mb, _ = run_rss(
            [*refmgr, "add", *map(str, clips), "--codec", "fish-s1", "--device", args.device],
            env,
            repo,
        )
        upstream_s, upstream_mb = 0.0, 0.0
        for clip in clips:
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

        # (2) rendering
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
                str(clips[0]),
            ],
            env,
            base,
        )
        theirs = json.loads(out.splitlines()[-1])

    ours_line = statistics.median(ours["line_s"])
    theirs_line = statistics.median(theirs["line_s"])
    print(
        f"fish-s1 on {args.device}, {kind}; {args.clips} clips of {args.seconds:g} s; "
        f"{args.lines} lines of {args.tokens} max new tokens"
    )
    print(
        f"(1) encode {args.clips} clips: refmgr add, one call {add_s:.2f} s "
        f"(peak RSS {add_mb:.0f} MB) vs fish-speech encode CLI once per file {upstream_s:.2f} s "
        f"(peak RSS {upstream_mb:.0f} MB per process): refmgr {upstream_s / add_s:.1f}x faster"
    )
    print(
        f"(2) per rendered line (median): refmgr from committed tokens {ours_line:.3f} s "
        f"(model load {ours['load_s']:.2f} s once, peak RSS {ours_mb:.0f} MB) vs "
        f"TTSInferenceEngine with reference audio, cache off {theirs_line:.3f} s "
        f"(load {theirs['load_s']:.2f} s, peak RSS {theirs_mb:.0f} MB): "
        f"refmgr {theirs_line / ours_line:.2f}x faster per line"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
