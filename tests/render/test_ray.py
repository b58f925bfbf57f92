"""`refmgr render --executor ray`: the lines render on the workers of a real local Ray
cluster (one per session, 2 CPUs); the outputs and lock are those of a local render."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from refmgr.backends.ray_executor import NAMESPACE_PREFIX
from refmgr.render.plan import Step
from tests.integration.test_validate_light import imported_modules
from tests.support.cli import run_cli
from tests.support.helpers import git, one_line_error
from tests.support.ray_cluster import free_port, kill_a_worker, ray_address
from tests.support.render import (
    check_lock,
    outputs,
    render,
    rendered,
    start_render,
    wait_for_outputs,
    whole_outputs,
)

__all__ = ["ray_address"]

LINES = 12
# Line 6 is longer than the draft engine speaks at once: its chunks go to the workers.
LONG = " ".join(f"Sentence {n} of the long speech goes on a while longer." for n in range(12))
SCENE = "\n".join(
    f"{'alpha' if i % 2 else 'beta'}: "
    + (LONG if i == 6 else f"This is line number {i} of a long scene.")
    for i in range(1, LINES + 1)
)


@pytest.fixture
def scene_repo(cast_repo: Path) -> Path:
    (cast_repo / "scene.txt").write_text(SCENE)
    git(cast_repo, "add", "scene.txt")
    git(cast_repo, "commit", "-q", "-m", "scene")
    return cast_repo


@pytest.fixture
def local_render(scene_repo: Path, tmp_path: Path) -> Path:
    """A copy of the repository, rendered in this process."""
    clean = tmp_path / "local"
    shutil.copytree(scene_repo, clean)
    render(clean, "scene.txt")
    return clean


def lock_bytes(root: Path) -> bytes:
    return (root / "renders" / "scene.lock.json").read_bytes()


def test_a_ray_render_is_byte_identical_to_a_local_one(
    scene_repo: Path, local_render: Path, ray_address: str
) -> None:
    proc = run_cli(
        "render", "scene.txt", "--executor", "ray", "--address", ray_address, cwd=scene_repo
    )
    assert proc.returncode == 0, proc.stderr
    assert outputs(scene_repo, "scene") == outputs(local_render, "scene")
    assert lock_bytes(scene_repo) == lock_bytes(local_render)
    long_line = next(e for e in check_lock(scene_repo, "scene")["entries"] if e["id"] == "0006")
    assert len(long_line["chunks"]) >= 2
    # Up to date now: nothing to render, no cluster joined.
    again = render(scene_repo, "scene.txt", executor="ray", address="127.0.0.1:1")
    assert rendered(again) == []


@pytest.mark.slow
def test_without_an_address_a_local_cluster_is_started_and_stopped(
    scene_repo: Path, local_render: Path
) -> None:
    from tests.support.ray_cluster import require_ray

    require_ray()
    import ray

    result = render(scene_repo, "scene.txt", executor="ray", workers=1)
    assert len(rendered(result)) == LINES
    assert outputs(scene_repo, "scene") == outputs(local_render, "scene")
    assert lock_bytes(scene_repo) == lock_bytes(local_render)
    assert not ray.is_initialized()  # shut down with the render


def test_a_worker_killed_mid_render_loses_only_its_lines(
    scene_repo: Path, local_render: Path, ray_address: str
) -> None:
    killed: list[int] = []

    def progress(done: int, total: int, step: Step | None) -> None:
        if done == 3 and not killed:
            # Its process, for real: every worker has two batches out at this point.
            killed.append(kill_a_worker(NAMESPACE_PREFIX))

    from refmgr.commands.render import RenderOptions, render_script
    from refmgr.project import open_project

    result = render_script(
        open_project(scene_repo),
        scene_repo / "scene.txt",
        options=RenderOptions(executor="ray", address=ray_address),
        progress=progress,
    )
    assert killed
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # it is really gone
    assert not result.run.failures
    # Every line once (the runner refuses a second result for a line), in script order.
    assert rendered(result) == [f"{i:04d}" for i in range(1, LINES + 1)]
    assert result.run.takes == LINES
    assert outputs(scene_repo, "scene") == outputs(local_render, "scene")
    assert lock_bytes(scene_repo) == lock_bytes(local_render)


def start_ray_render(root: Path, address: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return start_render(root, "scene.txt", "--executor=ray", f"--address={address}", **kwargs)


@pytest.mark.slow
def test_driver_sigkilled_then_restarted_keeps_what_finished(
    scene_repo: Path, local_render: Path, ray_address: str
) -> None:
    proc = start_ray_render(scene_repo, ray_address)
    wait_for_outputs(scene_repo, "scene", 2, proc, timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Whole outputs only: the kill may have caught the driver writing one (a .tmp file,
    # which the restart removes and renders again).
    kept = len([name for name in outputs(scene_repo, "scene") if not name.startswith(".")])
    assert 2 <= kept < LINES
    if (scene_repo / "renders" / "scene.lock.json").exists():
        check_lock(scene_repo, "scene")
    # The cluster drops the dead driver's workers; the restart gets the slots back.
    again = render(scene_repo, "scene.txt", executor="ray", address=ray_address)
    assert len(rendered(again)) == LINES - kept
    assert outputs(scene_repo, "scene") == outputs(local_render, "scene")
    assert lock_bytes(scene_repo) == lock_bytes(local_render)


@pytest.mark.slow
def test_ctrl_c_of_a_ray_render_leaves_a_true_lock(scene_repo: Path, ray_address: str) -> None:
    proc = start_ray_render(scene_repo, ray_address, start_new_session=True)
    wait_for_outputs(scene_repo, "scene", 2, proc, timeout=120)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lock = check_lock(scene_repo, "scene")
    whole_outputs(scene_repo, "scene")
    finished = len(outputs(scene_repo, "scene"))
    assert len(lock["entries"]) >= finished - 1
    assert len(rendered(render(scene_repo, "scene.txt"))) == LINES - finished


def test_an_address_with_no_cluster_is_a_one_line_error(scene_repo: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    before = git(scene_repo, "status", "--porcelain", "--ignored")
    proc = run_cli("render", "--executor", "ray", "--address", address, "scene.txt")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, address, "no Ray cluster answers there"), proc.stderr
    assert not (scene_repo / "renders").exists()
    assert git(scene_repo, "status", "--porcelain", "--ignored") == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--executor", "ray", "--address", "ray://head:10001"], "Ray Client"),
        (["--executor", "ray", "--address", "head"], "expected HOST:PORT"),
        (["--address", "127.0.0.1:6379"], "go with --executor ray"),
        (["--workers", "2"], "go with --executor ray"),
    ],
)
def test_executor_usage_errors(scene_repo: Path, args: list[str], needle: str) -> None:
    proc = run_cli("render", "scene.txt", *args)
    assert proc.returncode == 2
    assert one_line_error(proc.stderr, needle), proc.stderr
    assert not (scene_repo / "renders").exists()


def test_without_ray_installed_the_error_says_how(
    scene_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    proc = run_cli("render", "scene.txt", "--executor", "ray")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "pip install 'refmgr[ray]'"), proc.stderr
    assert not (scene_repo / "renders").exists()


def test_a_local_render_does_not_import_ray(scene_repo: Path) -> None:
    assert "ray" not in imported_modules(["render", "ep.txt"], scene_repo)
