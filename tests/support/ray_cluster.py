"""One local Ray cluster for a test session (``ray start --head --block``, 2 CPUs, no dashboard,
its files in a temporary folder), and a helper that kills a worker's process for real.

Starting a cluster costs seconds: the tests join this one with ``--address``. Without Ray
installed they skip, unless REFMGR_REQUIRE_RAY=1 (``make test``), where that is an error.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 120


def require_ray() -> None:
    if importlib.util.find_spec("ray") is not None:
        return
    if os.environ.get("REFMGR_REQUIRE_RAY") == "1":
        pytest.fail("ray is not installed but REFMGR_REQUIRE_RAY=1 (run: make test)")
    pytest.skip("ray is not installed (refmgr[ray]: make test)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of a head node started for this session (what --address takes)."""
    require_ray()
    with pytest.MonkeyPatch.context() as env:
        # Each test has a HOME of its own, so the drivers could not read a token the head
        # wrote into the first one's: no token authentication, on a cluster bound to
        # 127.0.0.1 that lives as long as the session.
        env.setenv("RAY_AUTH_MODE", "disabled")
        yield from head_node()


def head_node() -> Iterator[str]:
    """Start a head node with this process's environment; yield its address; stop it."""
    # Ray's socket paths must stay short: a folder of its own under /tmp, not pytest's.
    temp = Path(tempfile.mkdtemp(prefix="rfray-"))
    port = free_port()
    log = (temp / "start.log").open("wb")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ray"),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            "--num-gpus=0",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HOME": str(temp)},
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start failed: {(temp / 'start.log').read_text()}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        # SIGINT: `ray start --block` stops the processes it started, then exits.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def kill_a_worker(namespace_prefix: str) -> int:
    """SIGKILL the process of one worker of the render running in this process; its pid."""
    import ray

    from refmgr.backends.ray_executor import worker_pids

    namespaces = sorted(
        {
            a["namespace"]
            for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"].startswith(namespace_prefix)
        }
    )
    assert len(namespaces) == 1, namespaces
    pid = worker_pids(namespaces[0])[0]
    os.kill(pid, signal.SIGKILL)
    return pid
