"""Every bad input of issue #3, through the core and the CLI: one finding naming the file,
exit 1, and the repository exactly as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from refmgr.backends import registry
from refmgr.cli import main
from refmgr.commands.validate import validate_repository
from refmgr.jsondoc import fast_check, schema, validator
from tests.support.bad_cases import (
    BAD_CASES,
    BAD_IDS,
    EXTRA_CODEC,
    TOKENS,
    BadCase,
    extra_codec_path,
)
from tests.support.cli import run_cli, run_process
from tests.support.helpers import git, snapshot

pytest_plugins = ["tests.support.voice_fixtures"]


@pytest.fixture
def extra_codec(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    exec(EXTRA_CODEC, {})  # registers test-codec in the registry...
    spec = registry.CODECS.pop("test-codec")
    monkeypatch.setitem(registry.CODECS, "test-codec", spec)  # ...for this test only
    for cached in (schema, validator, fast_check):  # the schema's codec enum
        cached.cache_clear()
    yield
    monkeypatch.undo()
    for cached in (schema, validator, fast_check):
        cached.cache_clear()


def test_the_good_repository_is_valid(repo: Path) -> None:
    for staged in (False, True):
        result = validate_repository(staged=staged)
        assert result.findings == [] and result.references == 1
    proc = run_cli("validate")
    assert proc.returncode == 0 and "ok: 1 reference in the working tree" in proc.stdout


@pytest.mark.parametrize("case", BAD_CASES, ids=BAD_IDS)
def test_core_finds_it(
    case: BadCase, repo: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    if case.extra_codec:
        request.getfixturevalue("extra_codec")
    case.change(repo)
    before = snapshot(repo)
    findings = validate_repository().findings
    assert any(f.path == case.path and case.text in f.problem for f in findings), findings
    capsys.readouterr()
    assert main(["validate"]) == 1  # the command maps findings to exit 1
    assert f"{case.path}: " in capsys.readouterr().out
    git(repo, "add", "-A")
    staged = validate_repository(staged=True).findings
    assert any(f.path == case.path and case.text in f.problem for f in staged), staged
    git(repo, "reset", "-q")
    assert snapshot(repo) == before
    if "marker" in case.notes:
        marker = repo.parent / case.notes["marker"]
        assert not marker.exists()
        # The payload is live: unpickling it really would have created the file.
        np.load(repo / TOKENS, allow_pickle=True)
        assert marker.exists()


CLI_CASES = ("pickled-object-dtype", "duplicate-key", "orphan-tokens", "codec-not-allowed")


@pytest.mark.parametrize(
    "case", [c for c in BAD_CASES if c.id in CLI_CASES], ids=lambda c: str(c.id)
)
def test_cli_reports_it(case: BadCase, repo: Path, tmp_path: Path) -> None:
    case.change(repo)
    before = snapshot(repo)
    env = {"PYTHONPATH": str(extra_codec_path(tmp_path))} if case.extra_codec else None
    run = run_process if case.extra_codec else run_cli  # the codec registers at start-up
    proc = run("validate", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{case.path}: " in proc.stdout and case.text in proc.stdout
    assert all(": " in line for line in proc.stdout.splitlines())  # path: problem, one a line
    as_json = json.loads(run("validate", "--json", env=env).stdout)
    assert not as_json["ok"] and any(f["path"] == case.path for f in as_json["findings"])
    assert snapshot(repo) == before
