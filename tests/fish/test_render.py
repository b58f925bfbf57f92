"""The render pipeline with the Fish Speech engine, on the tiny S1 checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile

from refmgr.cli import main
from tests.support import fishkit
from tests.support.helpers import RecordingFactory, git

SCRIPT = """\
[hello] alpha: Good morning, and welcome aboard.
alpha {seed=5}: The tide turns at noon.
[bye] alpha: Mind the seventh step.
"""


@pytest.fixture
def episode(s1_repo: Path, recording: RecordingFactory) -> Path:
    alpha = s1_repo
    rec = recording("alpha.wav", seconds=3.3)
    assert main(["add", str(rec), "--codec", "fish-s1", "--text", "The alpha voice speaks."]) == 0
    config = alpha / "refmgr.toml"
    config.write_text(config.read_text().replace("max_new_tokens = 1024", "max_new_tokens = 6"))
    (alpha / "ep.txt").write_text(SCRIPT)
    git(alpha, "add", "-A")
    git(alpha, "commit", "-qm", "alpha, in the voice of fish-s1")
    return alpha


def render(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    code = main(["render", "ep.txt", "--engine", "fish-s1", "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def outputs(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "renders" / "ep").glob("*.wav"))}


def test_fish_render_is_reproducible_incremental_and_locked(
    episode: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = render(capsys)
    assert first["rendered"] == ["hello", "0002", "bye"]
    made = outputs(episode)
    assert sorted(made) == ["0002-alpha.wav", "bye-alpha.wav", "hello-alpha.wav"]
    for name in made:
        info = soundfile.info(episode / "renders" / "ep" / name)
        assert info.samplerate == 44100 and info.frames > 0 and info.frames % 2048 == 0

    lock = json.loads((episode / "renders" / "ep.lock.json").read_text())
    engine = lock["engine"]
    assert engine["id"] == "fish-s1" and engine["draft"] is False
    assert engine["pins"]["device"] == fishkit.DEVICE
    assert engine["pins"]["precision"] == fishkit.PRECISION
    assert set(engine["pins"]["checkpoint"]["files"]) >= {"codec.pth", "model.pth"}

    # Same script, same seeds, everything rendered again: the same bytes.
    assert render(capsys, "--force")["rendered"] == ["hello", "0002", "bye"]
    assert outputs(episode) == made

    # One line changed: only it renders; a different seed makes different audio.
    script = episode / "ep.txt"
    script.write_text(SCRIPT.replace("{seed=5}", "{seed=6}"))
    assert render(capsys)["rendered"] == ["0002"]
    again = outputs(episode)
    assert again["hello-alpha.wav"] == made["hello-alpha.wav"]
    assert again["0002-alpha.wav"] != made["0002-alpha.wav"]
    assert render(capsys)["rendered"] == []


def test_fish_render_refuses_another_codec_family(
    episode: Path, recording: RecordingFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = recording("gamma.wav", seconds=4.0)
    assert main(["add", str(rec), "--text", "Gamma.", "--codec", "codec2-3200"]) == 0
    (episode / "ep.txt").write_text(SCRIPT + "gamma: A codec2 voice.\n")
    capsys.readouterr()
    assert main(["render", "ep.txt", "--engine", "fish-s1", "--no-require-committed"]) == 1
    err = capsys.readouterr().err
    assert "engine 'fish-s1' cannot clone from codec2-3200 tokens" in err
    # The other lines still render and lock.
    assert sorted(outputs(episode)) == ["0002-alpha.wav", "bye-alpha.wav", "hello-alpha.wav"]


def test_parameters_fish_cannot_take_are_refused_by_the_plan(
    episode: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from refmgr.backends.fish.engine import FishEngine

    def synthesize(*args: object) -> None:
        raise AssertionError("a refused line reached the engine")

    monkeypatch.setattr(FishEngine, "synthesize", synthesize)
    (episode / "ep.txt").write_text(SCRIPT.replace("{seed=5}", "{seed=5, temperature=2.5}"))
    refusal = "ep.txt:2:16: temperature must be below 2 with the fish-s1 engine, not 2.5"
    capsys.readouterr()
    args = ["ep.txt", "--engine", "fish-s1", "--no-require-committed"]
    assert main(["render", "status", *args[:3]]) == 1
    out, err = capsys.readouterr()
    assert f"failed  0002   alpha      {refusal}" in out
    assert err == f"{refusal}; not rendered: 0002\n"
    assert main(["render", *args, "--only", "0002"]) == 1
    assert capsys.readouterr().err == f"{refusal}; not rendered: 0002\n"
    assert json.loads((episode / "renders" / "ep.lock.json").read_text())["entries"] == []


def test_status_takes_the_device_and_precision_of_the_render(
    episode: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def keys(*args: str) -> list[str]:
        capsys.readouterr()
        assert main(["render", "status", "ep.txt", "--engine", "fish-s1", "--json", *args]) == 0
        return [line["key"] for line in json.loads(capsys.readouterr().out)["lines"]]

    default = keys()
    assert keys("--device", fishkit.DEVICE, "--precision", fishkit.PRECISION) == default
    assert keys("--device", "auto") == default  # auto picks the device the tests run on
    other = keys("--precision", "fp32" if fishkit.PRECISION == "bf16" else "bf16")
    assert len(set(other)) == 3 and not set(other) & set(default)
