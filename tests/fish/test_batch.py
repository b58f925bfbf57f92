"""fish-s1 batched generation on the tiny checkpoint: a line's tokens and audio do not depend
on its batch, and equal upstream's one-line generate_long for the same seed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import refmgr.backends.fish._adapter as adapter
from refmgr.audio import wav_bytes
from refmgr.backends.base import LineRequest, Synthesis, VoiceReference
from refmgr.backends.fish._batch import BatchGenerator, Line, Plan
from refmgr.backends.fish.engine import FishEngine
from refmgr.backends.registry import ENGINES
from refmgr.checkpoints import RunOptions, open_engine
from refmgr.errors import BackendError
from refmgr.params import SynthesisParams
from refmgr.project import open_project
from tests.fish.conftest import TinyCheckpoint
from tests.fish.test_s1 import alpha, engine_reference  # noqa: F401  (alpha: a fixture)
from tests.fish.test_v15 import delta  # noqa: F401  (a fixture)
from tests.support import fishkit

# Ragged prompts: the last one is long enough that its positions cross the attention span
# blocks (256) that the shorter lines stay within.
TEXTS = [
    "Good morning, and welcome aboard.",
    "Hi.",
    "The boats came in early today, ahead of the storm.",
    "Nobody remembers who built the old stone bridge over there, nor why.",
    "Tomorrow we sail for the northern islands, past the lighthouse, the reefs, the long "
    "grey cliffs and the harbour where my grandfather kept his nets every winter.",
]


def params(i: int) -> SynthesisParams:
    # Per-line sampling parameters and seeds; one line stops at its own max_new_tokens.
    return SynthesisParams(
        seed=11 + i,
        temperature=(0.7, 0.9, 0.5, 0.7, 1.1)[i],
        top_p=(0.7, 0.8, 0.95, 0.6, 0.7)[i],
        repetition_penalty=(1.2, 1.1, 1.5, 1.2, 1.0)[i],
        max_new_tokens=(12, 9, 14, 12, 10)[i],
    )


@pytest.fixture
def model(s1_checkpoint: TinyCheckpoint) -> adapter.SemanticModel:
    import torch

    return adapter.load_semantic_model(
        "fish-s1", s1_checkpoint.directory, torch.device("cpu"), torch.float32
    )


def test_row_invariant_codes_equal_upstream_in_any_batch(
    alpha: Path,  # noqa: F811
    model: adapter.SemanticModel,
) -> None:
    import torch

    reference = engine_reference(alpha)
    codes = torch.from_numpy(reference.codes.astype(np.int64))
    upstream = [
        model.generate(text, reference.transcript, codes, params(i))[0]
        for i, text in enumerate(TEXTS)
    ]
    prefix = model.reference_prefix(reference.transcript, codes)
    lines = [
        Line(model.prompt(text, reference.transcript, codes), prefix, *astuple(params(i)))
        for i, text in enumerate(TEXTS)
    ]
    generator = BatchGenerator(model.module, Plan("row-invariant", 8))
    for order in ([0, 1, 2, 3, 4], [4, 2, 0, 3, 1], [1], [3, 4], [2, 2, 0]):
        got = dict(generator.generate([lines[i] for i in order]))
        assert sorted(got) == list(range(len(order)))
        for row, i in enumerate(order):
            assert torch.equal(got[row].long(), upstream[i]), (order, i)
    assert [u.shape[1] for u in upstream] == [11, 8, 13, 11, 9]


def astuple(p: SynthesisParams) -> tuple[int, float, float, float, int]:
    return (p.seed, p.temperature, p.top_p, p.repetition_penalty, p.max_new_tokens)


def test_batched_plan_depends_on_its_rows_not_on_batch_mates(
    alpha: Path,  # noqa: F811
    model: adapter.SemanticModel,
) -> None:
    import torch

    reference = engine_reference(alpha)
    codes = torch.from_numpy(reference.codes.astype(np.int64))
    prefix = model.reference_prefix(reference.transcript, codes)
    assert 0 < prefix < model.prompt("Hi.", reference.transcript, codes).shape[1]
    lines = [
        Line(model.prompt(text, reference.transcript, codes), prefix, *astuple(params(i)))
        for i, text in enumerate(TEXTS[:4])
    ]
    generator = BatchGenerator(model.module, Plan("batched", 4))
    first = dict(generator.generate(lines))
    again = dict(generator.generate(lines[::-1]))
    alone = dict(generator.generate(lines[2:3]))  # padded to 4 rows: the same shapes
    for i in range(4):
        assert torch.equal(first[i], again[3 - i])
    assert torch.equal(first[2], alone[0])


def synthesize_all(engine: FishEngine, requests: list[LineRequest]) -> dict[int, object]:
    results = list(engine.synthesize_many(requests))
    indexes = [index for index, _ in results]
    assert sorted(indexes) == list(range(len(requests)))  # each index exactly once
    return dict(results)


def test_engine_batches_give_the_bytes_of_single_lines_and_failures_stay_alone(
    alpha: Path,  # noqa: F811
    s1_checkpoint: TinyCheckpoint,
) -> None:
    import torch

    reference = engine_reference(alpha)
    good = [LineRequest(reference, text, params(i)) for i, text in enumerate(TEXTS)]
    too_long = LineRequest(reference, "word " * 500, params(0))
    empty = LineRequest(reference, "  ", params(1))
    bad = LineRequest(reference, "Fine words.", replace(params(2), temperature=2.5))
    other: VoiceReference = replace(reference, codec_id="codec2-3200")
    wrong = LineRequest(other, "Fine words.", params(3))
    mixed = [good[0], too_long, good[1], empty, good[2], bad, good[3], wrong, good[4]]

    engine, _ = open_engine(open_project(alpha), ENGINES["fish-s1"], RunOptions())
    assert isinstance(engine, FishEngine)
    # On a GPU (scripts/gpu-check.sh) the bytes may depend on the batch size, which the pins
    # record: every run below then keeps one size, and upstream is not the reference.
    cpu = fishkit.DEVICE == "cpu"
    try:
        engine.max_batch = 8
        plan = engine.batch_plan()
        if cpu:
            assert plan.kind == "row-invariant" and "batch" not in engine.pins()
        else:
            assert engine.pins()["batch"] == {"plan": "batched", "rows": 8}
        singles = [engine.synthesize(r.reference, r.text, r.params) for r in good]
        together = synthesize_all(engine, mixed)
        engine.max_batch = 2 if cpu else 8
        pairs = synthesize_all(engine, good[::-1])
        engine.max_batch = 1 if cpu else 8
        one_by_one = synthesize_all(engine, good)
        codec, llm = engine._loaded()
    finally:
        engine.close()

    def audio(result: object) -> bytes:
        assert isinstance(result, Synthesis), result
        assert result.sample_rate == 44100
        return result.audio.tobytes()

    expected = [audio(s) for s in singles]
    assert [audio(together[i]) for i in (0, 2, 4, 6, 8)] == expected
    # and the WAV files a render or `say` writes of them
    wavs = [wav_bytes(s.audio, s.sample_rate) for s in singles]
    assert [wav_of(together[i]) for i in (0, 2, 4, 6, 8)] == wavs
    assert [wav_of(pairs[4 - i]) for i in range(5)] == wavs
    assert [audio(pairs[4 - i]) for i in range(5)] == expected
    assert [audio(one_by_one[i]) for i in range(5)] == expected
    assert len(set(expected)) == 5
    for index, words in (
        (1, "too long for fish-s1's context"),
        (3, "the text to speak is empty"),
        (5, "temperature must be below 2"),
        (7, "clones only from fish-s1 tokens"),
    ):
        error = together[index]
        assert isinstance(error, BackendError) and words in str(error), error

    if not cpu:
        return
    # The sequential path, upstream's own: generate_long one line at a time, then decode.
    codes = torch.from_numpy(reference.codes.astype(np.int64))
    for i, request in enumerate(good):
        (segment,) = llm.generate(request.text, reference.transcript, codes, request.params)
        samples = np.clip(codec.decode(segment).numpy(), -1.0, 1.0).astype(np.float32)
        assert samples.tobytes() == expected[i]


def audio_of(result: object) -> bytes:
    assert isinstance(result, Synthesis), result
    return result.audio.tobytes()


def wav_of(result: object) -> bytes:
    assert isinstance(result, Synthesis), result
    return wav_bytes(result.audio, result.sample_rate)


def test_batch_size_from_the_device(s1_checkpoint: TinyCheckpoint, alpha: Path) -> None:  # noqa: F811
    engine, _ = open_engine(open_project(alpha), ENGINES["fish-s1"], RunOptions())
    assert isinstance(engine, FishEngine)
    if fishkit.DEVICE == "cpu":
        assert engine.batch_rows() == 8  # CPU default
    engine.max_batch = 3
    assert engine.batch_plan().rows == 3
    engine.max_batch = 0
    with pytest.raises(BackendError, match="at least 1"):
        engine.batch_rows()
    engine.close()


def test_fish_15_batches_equal_upstream_and_long_texts_run_alone(delta: Path) -> None:  # noqa: F811
    import torch

    reference = engine_reference(delta, "delta")
    # fish-speech-lib splits text over 150 characters into segments, each prompted with the
    # ones before: such a line runs alone through generate_long, its batch-mates batched.
    several = " ".join(TEXTS[2:5])
    texts = [*TEXTS[:4], several]
    requests = [LineRequest(reference, text, params(i)) for i, text in enumerate(texts)]
    engine, _ = open_engine(open_project(delta), ENGINES["fish-1.5"], RunOptions())
    assert isinstance(engine, FishEngine)
    cpu = fishkit.DEVICE == "cpu"
    try:
        engine.max_batch = 8
        together = synthesize_all(engine, requests)
        engine.max_batch = 1 if cpu else 8
        alone = synthesize_all(engine, requests[::-1])
        codec, llm = engine._loaded()
        assert llm.prompt(several, reference.transcript, torch.zeros((8, 4))) is None
    finally:
        engine.close()
    if not cpu:
        for i in range(5):
            assert audio_of(together[i]) == audio_of(alone[4 - i])
        return
    codes = torch.from_numpy(reference.codes.astype(np.int64))
    for i, request in enumerate(requests):
        segments = llm.generate(request.text, reference.transcript, codes, request.params)
        assert (len(segments) > 1) == (i == 4)
        audio = torch.cat([codec.decode(segment) for segment in segments]).numpy()
        expected = np.clip(audio, -1.0, 1.0).astype(np.float32).tobytes()
        for results, index in ((together, i), (alone, 4 - i)):
            result = results[index]
            assert isinstance(result, Synthesis), result
            assert result.audio.tobytes() == expected, i
