"""How fast is the commit hook? `refmgr validate` on 1,000 references vs pre-commit-hooks' check-json.

Builds a voice repository of 1,000 valid references (copies of the example voice with
their own random codes, so every token file and sha256 differs), then times, in the same
run and on the same machine, as a commit hook would run them (new process, interpreter
start included):

- `refmgr validate` of the whole repository (schema, pairs, pins, npy headers, sizes,
  sha256 and code ranges of every token file), and the same on the git index (--staged,
  what the commit hooks run);
- `python -m pre_commit_hooks.check_json` on the 1,000 manifests (JSON syntax only).

Target: refmgr validate of 1,000 references in at most 1.0 s wall. Prints both figures
and their ratio. Needs pre-commit-hooks (`make bench` installs benchmarks/requirements.txt).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from refmgr.manifest import dump_manifest
from refmgr.tokens import encode_npy

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0


def build_repo(repo: Path, count: int) -> None:
    (repo / "refs").mkdir(parents=True)
    (repo / "manifests").mkdir()
    (repo / "refmgr.toml").write_bytes((ROOT / "refmgr.toml").read_bytes())
    template = json.loads((ROOT / "manifests" / "alpha.json").read_text("utf-8"))
    shape = template["tokens"]["shape"]
    rng = np.random.default_rng(0)
    for i in range(count):
        name = f"voice-{i:04d}"
        npy = encode_npy(rng.integers(0, 256, size=shape, dtype=np.uint8))
        data = copy.deepcopy(template)
        data["name"] = name
        data["tokens"].update(
            path=f"refs/{name}.npy", sha256=hashlib.sha256(npy).hexdigest(), bytes=len(npy)
        )
        (repo / "refs" / f"{name}.npy").write_bytes(npy)
        (repo / "manifests" / f"{name}.json").write_bytes(dump_manifest(data))


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Median wall time of ``runs`` runs (after one warm-up run that fills the page cache)."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="references (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (default 5)")
    args = parser.parse_args()
    try:
        import pre_commit_hooks.check_json  # noqa: F401
    except ImportError:
        print("needs pre-commit-hooks: pip install -r benchmarks/requirements.txt", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "voices"
        build_repo(repo, args.count)
        manifests = sorted(str(p.relative_to(repo)) for p in (repo / "manifests").glob("*.json"))
        env_python = sys.executable
        ours, proc = timed([env_python, "-m", "refmgr", "validate"], repo, args.runs)
        if proc.returncode != 0:
            print(f"refmgr validate failed:\n{proc.stdout}{proc.stderr}", file=sys.stderr)
            return 1
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        staged, proc = timed([env_python, "-m", "refmgr", "validate", "--staged"], repo, args.runs)
        if proc.returncode != 0:
            print(f"refmgr validate --staged failed:\n{proc.stdout}{proc.stderr}", file=sys.stderr)
            return 1
        theirs, proc = timed(
            [env_python, "-m", "pre_commit_hooks.check_json", *manifests], repo, args.runs
        )
        if proc.returncode != 0:
            print(f"check-json failed:\n{proc.stdout}{proc.stderr}", file=sys.stderr)
            return 1
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"refmgr validate, {args.count} references:   {ours:.3f} s (median of {args.runs})")
    print(f"  the same, --staged (git index):   {staged:.3f} s (median of {args.runs})")
    print(f"check-json, {args.count} manifests:         {theirs:.3f} s (median of {args.runs})")
    print(f"ratio validate / check-json:        {ours / theirs:.2f}x")
    verdict = "meets" if ours <= TARGET_S else "MISSES"
    print(f"target: validate <= {TARGET_S:.1f} s for 1000 references: {verdict}")
    return 0 if ours <= TARGET_S or args.count != 1000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
