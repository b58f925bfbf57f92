"""Draft engines for the runner's batch tests: the real eSpeak NG draft engine, one that
speaks a line at a time and one that takes a batch and gives it back last line first.

Both refuse a line that says FAIL_WORD (an engine's own failure, like a CUDA error), the
same way, so a batched render and a sequential one can be compared byte for byte. They
are registered as the ``draft`` engine (see ``as_draft``): same id, same pins, same keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import ClassVar

import pytest

from refmgr.backends import registry
from refmgr.backends.base import LineRequest, LineResult, Synthesis, VoiceReference
from refmgr.backends.draft import DraftEngine
from refmgr.params import SynthesisParams

FAIL_WORD = "kraken"


class SequentialDraft(DraftEngine):
    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        if FAIL_WORD in text:
            raise RuntimeError("the model cannot say that")
        return super().synthesize(reference, text, params)


class ReversedBatchDraft(SequentialDraft):
    """Renders a whole batch, then yields it last line first."""

    batches: ClassVar[list[int]] = []  # the size of each batch it was handed, across instances
    max_batch = 16

    def synthesize_many(self, requests: Sequence[LineRequest]) -> Iterator[LineResult]:
        type(self).batches.append(len(requests))
        results: list[LineResult] = []
        for index, request in enumerate(requests):
            try:
                results.append(
                    (index, self.synthesize(request.reference, request.text, request.params))
                )
            except Exception as e:
                results.append((index, e))
        yield from reversed(results)


def as_draft(monkeypatch: pytest.MonkeyPatch, engine: type[DraftEngine]) -> None:
    """Make ``engine`` what the registry loads for id ``draft``."""
    loader = f"{__name__}:{engine.__name__}"
    spec = dataclasses.replace(registry.ENGINES["draft"], loader=loader)
    monkeypatch.setitem(registry.ENGINES, "draft", spec)
