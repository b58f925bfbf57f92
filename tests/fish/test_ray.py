"""fish-s1 on the workers of a real local Ray cluster (CPU, tiny checkpoint): the outputs and
lock are byte for byte those of a local render, as for the draft engine (tests/render)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import RecordingFactory, git
from tests.support.ray_cluster import head_node, require_ray
from tests.support.render import check_lock, outputs, render, rendered

SCRIPT = "\n".join(
    f"{'alpha' if i % 2 else 'beta'}: Line {i} is spoken by a worker." for i in range(1, 7)
)


@pytest.fixture
def fish_cluster(tiny_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A cluster of its own, started once the tiny checkpoint's environment is set: its
    workers inherit the torchaudio stand-in and the tiny codec config, as a process would."""
    require_ray()
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    yield from head_node()


@pytest.fixture
def scene(s1_repo: Path, recording: RecordingFactory) -> Path:
    from refmgr.cli import main

    for name, seconds in (("alpha", 3.3), ("beta", 3.1)):
        rec = recording(f"{name}.wav", seconds=seconds)
        text = f"The {name} voice speaks."
        assert main(["add", str(rec), "--codec", "fish-s1", "--text", text]) == 0
    config = s1_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("max_new_tokens = 1024", "max_new_tokens = 6"))
    (s1_repo / "ep.txt").write_text(SCRIPT + "\n")
    git(s1_repo, "add", "-A")
    git(s1_repo, "commit", "-qm", "a scene for fish-s1")
    return s1_repo


@pytest.mark.slow
def test_fish_on_ray_workers_is_byte_identical_to_a_local_render(
    scene: Path, tmp_path: Path, fish_cluster: str
) -> None:
    local = tmp_path / "local"
    shutil.copytree(scene, local)
    assert len(rendered(render(local, engine_id="fish-s1"))) == 6

    result = render(scene, engine_id="fish-s1", executor="ray", address=fish_cluster, workers=2)
    assert len(rendered(result)) == 6, [str(f.error) for f in result.run.failures]
    assert outputs(scene) == outputs(local)
    lock = (scene / "renders" / "ep.lock.json").read_bytes()
    assert lock == (local / "renders" / "ep.lock.json").read_bytes()
    check_lock(scene)
