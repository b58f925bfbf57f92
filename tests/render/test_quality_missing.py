"""Without refmgr[qa] (its packages made unimportable in a child process): rendering works
and records no scores, keeping the lock's scores of the outputs it keeps; --gate is a
usage error that names the extra (exit 2) and writes nothing; in CI the gate turns itself
off with a warning rather than fail every render of a repository without the extra."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.quality.conftest import without_qa
from tests.support.helpers import snapshot
from tests.support.quality import require_qa
from tests.support.render import check_lock, render


def test_rendering_without_the_extra(cast_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(cast_repo)
    refused = without_qa("render", "ep.txt", "--gate")
    assert refused.returncode == 2, refused.stderr
    assert "--gate: " in refused.stderr and "install refmgr[qa]" in refused.stderr
    assert snapshot(cast_repo) == before  # refused before anything was written

    proc = without_qa("render", "ep.txt", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["quality"]["scored"] is False and summary["quality"]["lines"] == []
    lock = check_lock(cast_repo)
    assert len(lock["entries"]) == 5
    assert all("quality" not in entry for entry in lock["entries"]) and "scorers" not in lock

    monkeypatch.setenv("CI", "true")
    ci = without_qa("render", "ep.txt", "--force")
    assert ci.returncode == 0, ci.stderr
    assert "quality gate off: the scorers are not installed" in ci.stderr


def test_scores_survive_a_render_without_the_extra(
    cast_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_qa()
    monkeypatch.setenv("REFMGR_QUALITY", "auto")
    render(cast_repo)  # in this process, with the scorers
    scored = check_lock(cast_repo)
    assert all("quality" in entry for entry in scored["entries"])
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("Good night.", "Good night, all."))
    proc = without_qa("render", "ep.txt")
    assert proc.returncode == 0, proc.stderr
    lock = check_lock(cast_repo)
    quality = {entry["id"]: "quality" in entry for entry in lock["entries"]}
    assert quality == {"0001": True, "ask": True, "0003": True, "0004": True, "end": False}
    assert lock["scorers"] == scored["scorers"]
    kept = {e["id"]: e["quality"] for e in scored["entries"] if e["id"] != "end"}
    assert {e["id"]: e["quality"] for e in lock["entries"] if e["id"] != "end"} == kept
