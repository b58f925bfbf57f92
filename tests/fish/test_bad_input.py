"""Bad input to the Fish Speech backends: one `path: problem` line, exit 1, nothing written.

Run through the CLI's entry point in this process (the fish stack is already imported);
test_s1.py runs the same commands as subprocesses.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import refmgr.backends.fish._adapter as adapter
from refmgr.backends.fish._batch import BatchGenerator
from refmgr.backends.registry import ENGINES
from refmgr.checkpoints import RunOptions, open_engine
from refmgr.cli import main
from refmgr.errors import BackendError
from refmgr.project import open_project
from tests.fish.conftest import TinyCheckpoint
from tests.fish.test_s1 import PARAMS, engine_reference
from tests.support import fishkit
from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, one_line_error, snapshot

DOWNLOAD = (
    "huggingface-cli download fishaudio/openaudio-s1-mini --local-dir checkpoints/openaudio-s1-mini"
)


def fails(capsys: pytest.CaptureFixture[str], args: list[str], *needles: str) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert one_line_error(err, *needles), err


@pytest.fixture
def alpha(s1_repo: Path, recording: RecordingFactory) -> Path:
    rec = recording("alpha.wav", seconds=3.0)
    assert main(["add", str(rec), "--codec", "fish-s1", "--text", "Alpha speaks here."]) == 0
    return s1_repo


@pytest.fixture
def broken_copy(
    s1_checkpoint: TinyCheckpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A copy of the pinned checkpoint, in use through $REFMGR_CHECKPOINT_FISH_S1, to damage."""
    copy = tmp_path / "copy"
    shutil.copytree(s1_checkpoint.directory, copy)
    monkeypatch.setenv("REFMGR_CHECKPOINT_FISH_S1", str(copy))
    return copy


@pytest.fixture
def add_beta(recording: RecordingFactory) -> list[str]:
    rec = recording("beta.wav", seconds=3.0, text="Beta.")
    return ["add", str(rec), "--codec", "fish-s1", "--text", "Beta."]


def test_missing_checkpoint_file(
    s1_repo: Path, add_beta: list[str], broken_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (broken_copy / "codec.pth").unlink()
    before = snapshot(s1_repo)
    fails(
        capsys,
        add_beta,
        "copy/codec.pth: missing checkpoint file of fish-s1",
        DOWNLOAD,
    )
    assert snapshot(s1_repo) == before


def test_truncated_checkpoint_file(
    s1_repo: Path, add_beta: list[str], broken_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codec = broken_copy / "codec.pth"
    codec.write_bytes(codec.read_bytes()[: codec.stat().st_size // 2])
    before = snapshot(s1_repo)
    args = add_beta
    # The pins catch it first, naming the file ...
    fails(capsys, args, "copy/codec.pth: sha256", "differs from the pin", "--allow-unpinned")
    # ... and when they are overridden, torch cannot read it: still one line naming the file.
    fails(capsys, [*args, "--allow-unpinned"], "copy/codec.pth: cannot load this checkpoint file")
    assert snapshot(s1_repo) == before


def test_allow_unpinned_is_recorded(
    s1_repo: Path, add_beta: list[str], broken_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    # Same architecture, other weights: a checkpoint that loads but is not the pinned one.
    codec = broken_copy / "codec.pth"
    state = torch.load(codec, weights_only=True)
    state = {k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, codec)
    assert main([*add_beta, "--allow-unpinned"]) == 0
    assert "warning: " in capsys.readouterr().err
    manifest = json.loads((s1_repo / "manifests" / "beta.json").read_text())
    assert manifest["codec"]["checkpoint"]["unpinned"] is True


def test_tokens_of_another_codec_family(
    alpha: Path, recording: RecordingFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = recording("gamma.wav", seconds=3.0, text="Gamma.")
    assert main(["add", str(rec), "--codec", "codec2-3200", "--text", "Gamma."]) == 0
    capsys.readouterr()
    out = tmp_path / "x.wav"
    fails(
        capsys,
        ["say", "gamma", "Hello.", "-o", str(out), "--engine", "fish-s1"],
        "manifests/gamma.json",
        "codec2-3200 tokens",
        "fish-s1 engine cannot clone",
    )
    fails(
        capsys,
        ["say", "gamma", "Hello.", "-o", str(out)],
        "refmgr.toml: engines.default (fish-s1) cannot clone from codec2-3200 tokens and no "
        "engine is made for them; choose one with --engine (draft)",
    )
    assert not out.exists()
    # The engine's own check, for callers of the Python API (the render pipeline).
    engine = open_engine(open_project(alpha), ENGINES["fish-s1"], RunOptions())[0]
    gamma = engine_reference(alpha, "gamma")
    with pytest.raises(
        BackendError, match="holds codec2-3200 tokens; the fish-s1 engine clones only"
    ):
        engine.synthesize(gamma, "Hello.", PARAMS)
    engine.close()


def test_engine_refuses_bad_lines(alpha: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    engine = open_engine(open_project(alpha), ENGINES["fish-s1"], RunOptions())[0]
    ref = engine_reference(alpha)
    no_transcript = replace(ref, transcript=" ")
    with pytest.raises(BackendError, match="has no transcript"):
        engine.synthesize(no_transcript, "Hello.", PARAMS)
    with pytest.raises(BackendError, match="the text to speak is empty"):
        engine.synthesize(ref, "  \n", PARAMS)
    with pytest.raises(BackendError, match="max_new_tokens must be 0"):
        engine.synthesize(ref, "Hello.", replace(PARAMS, max_new_tokens=1))
    # The rules of the engine's spec, which render plans and `say` check beforehand.
    for bad in (
        replace(PARAMS, temperature=2.5),
        replace(PARAMS, repetition_penalty=2.0),
        replace(PARAMS, top_p=0.0),
        replace(PARAMS, seed=-1),
    ):
        refused = ENGINES["fish-s1"].params.first_problem(bad, "fish-s1")
        assert refused is not None
        with pytest.raises(BackendError, match=re.escape(refused[1])):
            engine.synthesize(ref, "Hello.", bad)
    # The tiny model's context is 4096 tokens, 2048 of them kept for generation; its
    # tokenizer spends one token per byte.
    with pytest.raises(BackendError) as info:
        engine.synthesize(ref, "word " * 500, replace(PARAMS, max_new_tokens=4))
    assert "text is too long for fish-s1's context" in str(info.value)
    assert "at most 2048" in str(info.value)

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    # fish-s1 generates through refmgr's batched loop (a line alone is a batch of one).
    monkeypatch.setattr(BatchGenerator, "generate", out_of_memory)
    with pytest.raises(BackendError) as info:
        engine.synthesize(ref, "The line that was too much.", PARAMS)
    assert str(info.value).startswith(
        f"out of memory on {fishkit.DEVICE} ({fishkit.PRECISION}) while speaking the line 'The line that was too much.' "
        "in the voice of 'alpha'"
    )
    engine.close()


def test_say_bad_input_writes_nothing(
    alpha: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "line.wav"
    before = snapshot(alpha)
    fails(capsys, ["say", "alpha", "", "-o", str(out)], "the text to speak is empty")
    if fishkit.DEVICE == "cpu":  # on a GPU machine (scripts/gpu-check.sh) CUDA is there
        fails(
            capsys,
            ["say", "alpha", "Hi.", "-o", str(out), "--device", "cuda"],
            "CUDA was asked for but is not available",
            "use --device cpu",
        )
    fails(
        capsys,
        ["say", "alpha", "word " * 500, "-o", str(out), "--max-new-tokens", "4"],
        "text is too long for fish-s1's context",
    )
    fails(
        capsys,
        ["say", "alpha", "Hi.", "-o", str(tmp_path / "no" / "x.wav")],
        "no: directory does not exist",
    )
    assert not out.exists()
    assert snapshot(alpha) == before


def test_add_out_of_memory_names_the_recording(
    s1_repo: Path,
    recording: RecordingFactory,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    first = recording("one.wav", seconds=3.0, text="One.")
    second = recording("two.wav", seconds=4.0, text="Two.")
    for rec in (first, second):
        rec.with_suffix(".lab").write_text("Words.")
    real = adapter.CodecModel.encode

    def encode(self: adapter.CodecModel, audio: torch.Tensor) -> torch.Tensor:
        if audio.shape[0] > 3.5 * 44100:
            raise RuntimeError("CUDA out of memory. Tried to allocate 8.00 GiB")
        return real(self, audio)

    monkeypatch.setattr(adapter.CodecModel, "encode", encode)
    before = snapshot(s1_repo)
    fails(
        capsys,
        ["add", str(first), str(second), "--codec", "fish-s1"],
        "two.wav: out of memory on cpu while encoding 4.0 s of audio with fish-s1",
    )
    assert snapshot(s1_repo) == before


@pytest.mark.skipif(fishkit.DEVICE != "cpu", reason="CUDA is there on a GPU machine")
def test_cuda_asked_for_in_refmgr_toml(s1_repo: Path, recording: RecordingFactory) -> None:
    text = (s1_repo / "refmgr.toml").read_text()
    assert f'device = "{fishkit.DEVICE}"' in text
    text = text.replace(f'device = "{fishkit.DEVICE}"', 'device = "cuda"')
    (s1_repo / "refmgr.toml").write_text(text)
    rec = recording("beta.wav", seconds=3.0, text="Beta.")
    proc = run_cli("add", rec, "--codec", "fish-s1", "--text", "Beta.")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "CUDA was asked for but is not available")
    assert not (s1_repo / "manifests" / "beta.json").exists()


def test_say_checks_the_engines_parameter_rules_before_loading_a_model(
    alpha: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from refmgr.backends.base import Synthesis
    from refmgr.backends.fish.engine import FishEngine
    from refmgr.params import SynthesisParams

    def no_model(*args: object) -> None:
        raise AssertionError("a model was loaded for parameters the engine cannot take")

    monkeypatch.setattr(FishEngine, "_loaded", no_model)
    out = tmp_path / "line.wav"
    before = snapshot(alpha)
    say = ["say", "alpha", "Hi.", "-o", str(out)]
    fails(capsys, [*say, "--temperature", "2.5"], "temperature must be below 2 with the fish-s1")
    fails(capsys, [*say, "--max-new-tokens", "1"], "max_new_tokens must be 0 (no limit but the")
    config = alpha / "refmgr.toml"
    text = config.read_text()
    config.write_text(text.replace("repetition_penalty = 1.2", "repetition_penalty = 2.5"))
    fails(
        capsys,
        say,
        "refmgr.toml: render.repetition_penalty must be below 2 with the fish-s1 engine, not 2.5",
    )
    config.write_text(text)
    assert not out.exists() and snapshot(alpha) == before

    # 0, "up to the model's context", is the fish engines' to take.
    asked: list[SynthesisParams] = []

    def synthesize(self: FishEngine, ref: object, line: str, params: SynthesisParams) -> Synthesis:
        asked.append(params)
        return Synthesis(np.zeros(2048, dtype=np.float32), 44100)

    monkeypatch.setattr(FishEngine, "synthesize", synthesize)
    assert main([*say, "--max-new-tokens", "0"]) == 0
    assert [p.max_new_tokens for p in asked] == [0]
