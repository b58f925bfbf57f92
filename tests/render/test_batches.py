"""The runner hands the engine its lines in batches and takes them back in any order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.batch_engine import FAIL_WORD, ReversedBatchDraft, SequentialDraft, as_draft
from tests.support.render import check_lock, outputs, render, rendered

SCENE = "\n".join(
    [
        "alpha: The lamp is lit and the sea is calm tonight.",
        "beta: Did you see the ship near the rocks?",
        f"alpha: A {FAIL_WORD} rose out of the water.",
        "beta: Then we wait until morning.",
        "alpha {seed=7}: Only its lights, far to the north.",
        "beta: Good night.",
    ]
)


def test_a_batch_answered_out_of_order_gives_the_bytes_of_a_sequential_render(
    cast_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cast_repo / "scene.txt").write_text(SCENE)
    sequential = tmp_path / "sequential"
    shutil.copytree(cast_repo, sequential)

    as_draft(monkeypatch, SequentialDraft)
    one_by_one = render(sequential, "scene.txt")
    as_draft(monkeypatch, ReversedBatchDraft)
    ReversedBatchDraft.batches.clear()
    batched = render(cast_repo, "scene.txt")

    assert ReversedBatchDraft.batches == [6]  # every line's first take in one call
    # The line the engine refuses fails alone, in both, with the same words.
    for result in (one_by_one, batched):
        assert [(f.step.line.line, str(f.error)) for f in result.run.failures] == [
            (3, "engine 'draft' failed: RuntimeError: the model cannot say that")
        ]
        assert rendered(result) == ["0001", "0002", "0004", "0005", "0006"]  # script order
    assert outputs(cast_repo, "scene") == outputs(sequential, "scene")
    lock = (cast_repo / "renders" / "scene.lock.json").read_bytes()
    assert lock == (sequential / "renders" / "scene.lock.json").read_bytes()
    assert len(check_lock(cast_repo, "scene")["entries"]) == 5


def test_batch_sets_the_engines_max_batch_and_not_the_key(
    cast_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_draft(monkeypatch, ReversedBatchDraft)
    seen: list[int] = []
    original = ReversedBatchDraft.synthesize_many

    def spy(self: ReversedBatchDraft, requests):  # type: ignore[no-untyped-def]
        seen.append(self.max_batch)
        return original(self, requests)

    monkeypatch.setattr(ReversedBatchDraft, "synthesize_many", spy)
    first = render(cast_repo, batch=3)
    assert seen == [3] and len(rendered(first)) == 5
    # Another batch size renders nothing again: the outputs of batch 3 are up to date.
    assert rendered(render(cast_repo, batch=7)) == []
