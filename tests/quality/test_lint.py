"""`refmgr lint`: stored measures judged against today's limits; --update fills them in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from refmgr.jsondoc import fast_check
from refmgr.manifest import dump_manifest, load_manifest
from refmgr.quality.reference import embedding_source, reference_embedding, reference_measures
from tests.quality.conftest import QA, without_qa
from tests.quality.test_admission import clean_recording
from tests.support.cli import run_cli, top_level_imports
from tests.support.helpers import snapshot

HEAVY = {"torch", "resemblyzer", "speechmos", "onnxruntime", "librosa", "numba", "pyloudnorm"}


def _add(repo: Path, tmp: Path, voice: str, quality: str) -> Path:
    proc = run_cli(
        "add", clean_recording(tmp / "recordings", voice), env={"REFMGR_QUALITY": quality}
    )
    assert proc.returncode == 0, proc.stderr
    return repo / "manifests" / f"{voice}.json"


def test_update_measures_a_reference_added_without_the_extra_from_its_tokens(
    voice_repo: Path, tmp_path: Path
) -> None:
    manifest_path = _add(voice_repo, tmp_path, "kal", quality="off")
    assert "quality" not in load_manifest(manifest_path).data

    proc = run_cli("lint", env=QA)
    assert proc.returncode == 0, proc.stderr
    assert "manifests/kal.json: no quality measures" in proc.stderr
    assert "run refmgr lint --update" in proc.stderr

    proc = run_cli("lint", "--update", "--json", env=QA)
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(proc.stdout)
    assert item["updated"] and item["source"] == "tokens"
    manifest = load_manifest(manifest_path)
    assert embedding_source(manifest) == "tokens"
    embedding = reference_embedding(manifest)
    assert embedding is not None and embedding.shape == (256,)
    assert reference_measures(manifest) == item["measures"]
    assert run_cli("validate").returncode == 0

    before = snapshot(voice_repo)  # measured once: a second update has nothing to do
    proc = run_cli("lint", "--update", "--json", env=QA)
    assert proc.returncode == 0 and not json.loads(proc.stdout)[0]["updated"]
    assert snapshot(voice_repo) == before


def test_lint_judges_stored_measures_against_the_limits_as_they_are_now(
    voice_repo: Path, tmp_path: Path
) -> None:
    _add(voice_repo, tmp_path, "slt", quality="auto")
    assert run_cli("lint").returncode == 0
    config = voice_repo / "refmgr.toml"
    text = config.read_text()
    text = re.sub(r"speech_ratio_warn_below = [0-9.]+", "speech_ratio_warn_below = 0.995", text)
    text = re.sub(r"speech_ratio_refuse_below = [0-9.]+", "speech_ratio_refuse_below = 0.99", text)
    config.write_text(text)
    proc = run_cli("lint")  # needs no scorer: the measures are in the manifest
    assert proc.returncode == 1
    assert re.search(
        r"^manifests/slt\.json: speech ratio too low \(measured 0\.\d\d, limit 0\.99: "
        r"quality\.reference\.speech_ratio_refuse_below\)$",
        proc.stderr,
        re.M,
    ), proc.stderr


@pytest.mark.no_qa
def test_update_without_the_extra_says_what_to_install(voice_repo: Path, tmp_path: Path) -> None:
    recording = clean_recording(tmp_path / "recordings", "awb")
    assert without_qa("add", recording).returncode == 0
    before = snapshot(voice_repo)
    proc = without_qa("lint", "--update")
    assert proc.returncode == 2
    assert "install refmgr[qa]" in proc.stderr
    assert snapshot(voice_repo) == before


def test_validate_and_lint_stay_light_and_check_the_quality_section(
    voice_repo: Path, tmp_path: Path
) -> None:
    manifest_path = _add(voice_repo, tmp_path, "rms", quality="auto")
    assert fast_check("manifest") is not None  # the quality section kept the fast path
    assert not top_level_imports("validate") & HEAVY
    assert not top_level_imports("lint") & HEAVY

    data = json.loads(manifest_path.read_text())
    data["quality"]["embedding"]["source"] = "guessed"
    manifest_path.write_bytes(dump_manifest(data))
    proc = run_cli("validate")
    assert proc.returncode == 1
    assert "manifests/rms.json: quality.embedding.source: " in proc.stdout
