"""The Ray executor against a local render: 200 draft lines, 2 workers, one run.

    python benchmarks/bench_ray.py

Prints, from one run: a local render's wall time (the baseline); a Ray render with 2
workers joining a cluster that is already up, as a ratio of it (target <= 0.75 on a 2-core
machine: the two workers speak two lines at once, the driver only writes); the cluster's
start-up time on its own; and a Ray render that starts its own cluster (what
`--executor ray` without `--address` costs end to end). Each render is the real command
line (`python -m refmgr render`). The outputs and locks of every render are compared byte
for byte. Exits 1 if the target is missed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ray
from bench_render import LINES, make_repository

TARGET = 0.75
WORKERS = 2


def render(root: Path, *args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "render", "episode.txt", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"render {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    assert f"rendered {LINES}," in proc.stdout, proc.stdout
    return elapsed


def result(root: Path) -> dict[str, bytes]:
    renders = root / "renders"
    files = [*sorted((renders / "episode").iterdir()), renders / "episode.lock.json"]
    return {f.name: f.read_bytes() for f in files}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rfbench-") as tmp:
        # Ray writes an authentication token under ~/.ray: a HOME of the benchmark's own,
        # shared by the cluster started here and the renders that join it.
        os.environ["HOME"] = f"{tmp}/home"
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
    print(f"draft engine, {LINES} lines, {os.cpu_count()} CPUs, load average {load:.2f}")
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


if __name__ == "__main__":
    raise SystemExit(main())
