"""refmgr say with the engines every machine has: the engine it picks, and bad parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile

from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, one_line_error, snapshot


@pytest.fixture
def alpha(voice_repo: Path, recording: RecordingFactory) -> Path:
    rec = recording("alpha.wav", seconds=6.0)
    assert run_cli("add", rec, "--text", "Alpha speaks.").returncode == 0
    return voice_repo


def test_say_uses_the_engine_render_would(alpha: Path, tmp_path: Path) -> None:
    # engines.default is draft, which takes any reference: as `render` would, say uses it.
    out = tmp_path / "hi.wav"
    proc = run_cli("say", "alpha", "Hello there.", "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["engine"] == "draft"
    assert one_line_error(proc.stderr, "warning: the draft engine speaks a scratch voice")
    assert soundfile.info(out).frames > 0


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--engine", "nope"], "'nope' is not one of 'draft', 'fish-1.5', 'fish-s1'"),
        (["--seed", "99999999999999999999"], "--seed"),
        (["--seed", "-5"], "seed must be between 0 and 4294967295, not -5"),
        (["--max-new-tokens", "-1"], "--max-new-tokens"),
        # Outside what any engine takes: a usage error, before anything loads.
        (["--temperature", "nan"], "temperature must be a finite number, not nan"),
        (["--temperature", "0"], "temperature must be above 0, not 0.0"),
        (["--top-p", "1.5"], "top_p must be above 0 and at most 1, not 1.5"),
        (["--repetition-penalty", "inf"], "repetition_penalty must be a finite number, not inf"),
    ],
)
def test_say_usage_errors(alpha: Path, tmp_path: Path, args: list[str], problem: str) -> None:
    proc = run_cli("say", "alpha", "Hi.", "-o", tmp_path / "x.wav", *args)
    assert proc.returncode == 2 and problem in proc.stderr, proc.stderr
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        # 0 means "up to the model's context": the fish engines take it, draft does not.
        (["--max-new-tokens", "0"], "max_new_tokens must be at least 1 with the draft engine"),
    ],
)
def test_say_refuses_parameters_the_engine_cannot_take(
    alpha: Path, tmp_path: Path, args: list[str], problem: str
) -> None:
    before = snapshot(alpha)
    proc = run_cli("say", "alpha", "Hi.", "-o", tmp_path / "x.wav", *args)
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, problem), proc.stderr
    assert not (tmp_path / "x.wav").exists()
    assert snapshot(alpha) == before
