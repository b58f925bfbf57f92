"""The Ray executor against a local render: 200 draft lines, 2 workers, one run.

    python benchmarks/bench_ray.py
    python benchmarks/bench_ray.py --engine fish-s1 --device cuda [--checkpoint DIR]

Prints, from one run: a local render's wall time (the baseline); a Ray render with 2
workers joining a cluster that is already up, as a ratio of it (target <= 0.75 on a 2-core
machine: the two workers speak two lines at once, the driver only writes); the cluster's
start-up time on its own; and a Ray render that starts its own cluster (what
`--executor ray` without `--address` costs end to end). Each render is the real command
line (`python -m refmgr render`). The outputs and locks of every render are compared byte
for byte. Exits 1 if the target is missed.

With --engine fish-s1 (the GPU check): LINES lines of one fish-s1 voice, rendered locally
and with `--executor ray` on a local cluster of its own (one worker per GPU; 2 CPU workers
with --device cpu), on the tiny random-weight checkpoint unless --checkpoint is given.
Prints the ratio and whether the outputs are byte-identical; exits 1 if they differ on the
CPU (on a GPU, kernels may differ between processes: reported, not required).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray
import soundfile
from bench_render import LINES, READING, make_repository

from refmgr.backends.espeak import Voice, speak_float

ROOT = Path(__file__).resolve().parents[1]

TARGET = 0.75
WORKERS = 2


def render(root: Path, *args: str, lines: int = LINES, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "render", "episode.txt", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"render {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    assert f"rendered {lines}," in proc.stdout, proc.stdout
    return elapsed


def result(root: Path) -> dict[str, bytes]:
    renders = root / "renders"
    files = [*sorted((renders / "episode").iterdir()), renders / "episode.lock.json"]
    return {f.name: f.read_bytes() for f in files}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["draft", "fish-s1"], default="draft")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--checkpoint", type=Path, help="fish-s1: a real openaudio-s1-mini")
    parser.add_argument("--lines", type=int, default=16, help="fish-s1: lines to render")
    parser.add_argument("--tokens", type=int, default=32, help="fish-s1: max_new_tokens")
    parser.add_argument("--workers", type=int, help="fish-s1: Ray workers (default: GPUs)")
    args = parser.parse_args()
    if args.engine == "fish-s1":
        return fish(args)
    return draft()


def draft() -> int:
    with tempfile.TemporaryDirectory(prefix="rfbench-") as tmp:
        # Ray writes an authentication token under ~/.ray: a HOME of the benchmark's own,
        # shared by the cluster started here and the renders that join it.
        os.environ["HOME"] = f"{tmp}/home"
        # Rendering only, on both sides: quality scoring runs in the driver whatever the
        # executor (benchmarks/bench_quality.py measures it), and on 2 cores it would take
        # a core from the workers that a local render leaves idle.
        os.environ["REFMGR_QUALITY"] = "off"
        base = Path(tmp) / "voices"
        make_repository(base)
        roots = {name: Path(tmp) / name for name in ("local", "joined", "started")}
        for root in roots.values():
            shutil.copytree(base, root)
        local = render(roots["local"])
        # A cluster of 2 CPU slots, started here and timed on its own; the render joins it.
        start = time.perf_counter()
        context = ray.init(
            num_cpus=WORKERS, include_dashboard=False, _temp_dir=f"{tmp}/ray", log_to_driver=False
        )
        startup = time.perf_counter() - start
        address = context.address_info["gcs_address"]
        try:
            joined = render(roots["joined"], "--executor=ray", f"--address={address}")
        finally:
            ray.shutdown()
        started = render(roots["started"], "--executor=ray", f"--workers={WORKERS}")
        same = result(roots["local"]) == result(roots["joined"]) == result(roots["started"])
    ok = joined / local <= TARGET
    load = os.getloadavg()[0]
    print(
        f"draft engine, {LINES} lines, {os.cpu_count()} CPUs, load average {load:.2f}, "
        "no quality scoring"
    )
    print(f"local render (baseline):             {local:6.2f} s")
    print(
        f"ray, {WORKERS} workers, cluster already up:  {joined:6.2f} s  "
        f"({joined / local:.2f} of local; target <= {TARGET}) {'ok' if ok else 'MISSED'}"
    )
    print(
        f"cluster start-up alone:              {startup:6.2f} s  ({startup / local:.2f} of local)"
    )
    print(
        f"ray, {WORKERS} workers, starting its cluster: {started:6.2f} s  "
        f"({started / local:.2f} of local)"
    )
    print(f"outputs and locks byte-identical across the three: {same}")
    return 0 if ok and same else 1


def fish(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))  # tests.support.fishkit
    from tests.support import fishkit

    with tempfile.TemporaryDirectory(prefix="rfbench-") as tmp:
        base = Path(tmp)
        env = {**os.environ, "HOME": f"{tmp}/home", "OMP_NUM_THREADS": "1"}
        codec_config = "modded_dac_vq"
        kind = f"checkpoint {args.checkpoint}"
        if args.checkpoint is None:
            fishkit.enable_stubs()
            args.checkpoint = base / "openaudio-s1-mini"
            fishkit.build_s1(args.checkpoint, base / "configs")
            tiny = fishkit.subprocess_env(base / "configs")
            # The workers are children of the cluster the render starts: they inherit this.
            tiny["PYTHONPATH"] = os.pathsep.join([tiny["PYTHONPATH"], str(ROOT)])
            env |= tiny
            codec_config, kind = fishkit.TINY_S1_CODEC_CONFIG, "tiny random-weight checkpoint"
        local, joined = base / "local", base / "ray"
        make_fish_repository(local, args, codec_config, env)
        shutil.copytree(local, joined)
        workers = [] if args.workers is None else [f"--workers={args.workers}"]
        device = [f"--device={args.device}"]
        alone = render(local, *device, lines=args.lines, env=env)
        spread = render(joined, *device, "--executor=ray", *workers, lines=args.lines, env=env)
        same = result(local) == result(joined)
    print(f"fish-s1 on {args.device}, {kind}; {args.lines} lines of {args.tokens} max new tokens")
    print(f"local render (baseline):          {alone:6.2f} s")
    print(
        f"ray, starting its cluster:        {spread:6.2f} s  ({spread / alone:.2f} of local, "
        "start-up and a model load per worker included)"
    )
    print(f"outputs and lock byte-identical to the local render: {same}")
    return 0 if same or args.device != "cpu" else 1


def make_fish_repository(
    root: Path, args: argparse.Namespace, codec_config: str, env: dict[str, str]
) -> None:
    refmgr = [sys.executable, "-m", "refmgr"]
    subprocess.run([*refmgr, "init", str(root)], check=True, capture_output=True, env=env)
    config = root / "refmgr.toml"
    config.write_text(
        config.read_text().replace("max_new_tokens = 1024", f"max_new_tokens = {args.tokens}")
        + f'\n[models.fish-s1]\ncodec_config = "{codec_config}"\n'
    )
    clip = root.parent / "keeper.wav"
    soundfile.write(clip, speak_float(READING, 44100, Voice("en-us")), 44100)
    for command in (
        ["model", "pin", "fish-s1", str(args.checkpoint)],
        ["add", str(clip), "--codec", "fish-s1", f"--device={args.device}", "--text", READING],
    ):
        subprocess.run([*refmgr, *command], cwd=root, check=True, capture_output=True, env=env)
    (root / "episode.txt").write_text(
        "".join(f"keeper: Line {i}: the lamp is lit, the tide is out.\n" for i in range(args.lines))
    )
    for git in (["add", "-A"], ["commit", "-qm", "keeper"]):
        subprocess.run(["git", *git], cwd=root, check=True, env=env | GIT_IDENTITY)


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@invalid",
}


if __name__ == "__main__":
    raise SystemExit(main())
