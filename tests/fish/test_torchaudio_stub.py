"""The torchaudio stand-in (tests/stubs) computes what real torchaudio computes.

The fish-1.5 encode path runs the stand-in's mel filterbank on every encode in the tests.
tests/golden/torchaudio.npz holds real torchaudio 2.11's outputs for fixed inputs, made by
scripts/torchaudio_golden.py from the PyPI wheel's own source (tests/golden/torchaudio.json
says which wheel and functions).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.support import fishkit

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.fixture(scope="module")
def stub() -> ModuleType:
    if importlib.util.find_spec("torch") is None:
        if os.environ.get("REFMGR_REQUIRE_FISH") == "1":
            pytest.fail("torch is not installed but REFMGR_REQUIRE_FISH=1 (run: make test)")
        pytest.skip("torch is not installed (the Fish Speech test stack: make test)")
    fishkit.enable_stubs()
    import torchaudio
    import torchaudio.functional
    import torchaudio.transforms

    if not Path(torchaudio.__file__).is_relative_to(fishkit.STUBS):
        pytest.skip(f"real torchaudio is installed ({torchaudio.__file__}): no stand-in to check")
    return torchaudio


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray[Any, Any]]:
    with np.load(GOLDEN / "torchaudio.npz", allow_pickle=False) as data:
        return dict(data)


def meta() -> dict[str, Any]:
    return json.loads((GOLDEN / "torchaudio.json").read_text())  # type: ignore[no-any-return]


def test_the_golden_values_come_from_real_torchaudio() -> None:
    assert meta()["torchaudio_version"].startswith("2.11.0")


@pytest.mark.parametrize("case", meta()["fbanks"], ids=lambda c: c[0])
def test_melscale_fbanks(stub: ModuleType, golden: dict[str, Any], case: list[Any]) -> None:
    name, *args = case
    got = stub.functional.melscale_fbanks(*args).numpy()
    # float32 exp/log differ by a few ulps between CPUs (AVX2 vs AVX-512 kernels), and where
    # a triangle's two slopes nearly cancel that is a large relative error on a tiny weight:
    # compare against the filterbank's scale. A wrong formula is off by orders more.
    scale = float(np.abs(golden[name]).max())
    np.testing.assert_allclose(got, golden[name], rtol=1e-5, atol=1e-4 * scale)


def test_melscale_transform(stub: ModuleType, golden: dict[str, Any]) -> None:
    import torch

    melscale = stub.transforms.MelScale(**meta()["melscale"])
    got = melscale(torch.from_numpy(golden["melscale_input"])).numpy()
    np.testing.assert_allclose(got, golden["melscale_output"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", meta()["resamples"], ids=lambda c: c[0])
def test_resample(stub: ModuleType, golden: dict[str, Any], case: list[Any]) -> None:
    import torch

    name, orig, new = case
    wave = torch.from_numpy(golden["resample_input"])
    got = stub.functional.resample(wave, orig, new).numpy()
    np.testing.assert_allclose(got, golden[name], rtol=1e-4, atol=1e-5)
    got = stub.transforms.Resample(orig, new)(wave).numpy()
    np.testing.assert_allclose(got, golden[f"{name}_transform"], rtol=1e-4, atol=1e-5)
