"""Acceptance: a change re-renders exactly the lines it affects, and nothing else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from refmgr.manifest import dump_manifest
from tests.support.helpers import git, make_recording
from tests.support.render import check_lock, outputs, read_lock, render, rendered

ALL = ["0001", "ask", "0003", "0004", "end"]
ALPHA = ["0001", "0003", "end"]
BETA = ["ask", "0004"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_first_render_then_nothing(cast_repo: Path) -> None:
    assert rendered(render(cast_repo)) == ALL
    first = outputs(cast_repo)
    lock = (cast_repo / "renders" / "ep.lock.json").read_bytes()
    again = render(cast_repo)
    assert rendered(again) == [] and again.run.reused == []
    assert outputs(cast_repo) == first
    assert (cast_repo / "renders" / "ep.lock.json").read_bytes() == lock
    assert sorted(first) == [
        "0001-alpha.wav",
        "0003-alpha.wav",
        "0004-beta.wav",
        "ask-beta.wav",
        "end-alpha.wav",
    ]
    check_lock(cast_repo)


def test_changing_one_line_text_renders_that_line(cast_repo: Path) -> None:
    render(cast_repo)
    before = outputs(cast_repo)
    edit(cast_repo / "ep.txt", "Then we wait until morning.", "Then we wait for the dawn.")
    assert rendered(render(cast_repo)) == ["0004"]
    after = outputs(cast_repo)
    assert [n for n in after if after[n] != before[n]] == ["0004-beta.wav"]
    check_lock(cast_repo)


def test_changing_one_line_seed_renders_that_line(cast_repo: Path) -> None:
    render(cast_repo)
    edit(cast_repo / "ep.txt", "{seed=7}", "{seed=8}")
    result = render(cast_repo)
    assert rendered(result) == ["0003"]
    step = next(s for s in result.plan.steps if s.line.label == "0003")
    assert step.reason == "changed: params.seed 7 -> 8"
    assert read_lock(cast_repo)["entries"][2]["params"]["seed"] == 8


def test_seed_option_changes_lines_without_their_own_seed(cast_repo: Path) -> None:
    render(cast_repo)
    assert rendered(render(cast_repo, seed=5)) == ["0001", "ask", "0004", "end"]


def test_changing_a_references_tokens_renders_its_lines(
    cast_repo: Path, recordings_cache: Path
) -> None:
    from refmgr.commands.add import add_references
    from refmgr.project import open_project

    render(cast_repo)
    wav = make_recording(
        cast_repo.parent / "beta2.wav",
        text="A different recording of beta.",
        seconds=4.0,
        voice="en-us+f4",
        cache=recordings_cache,
    )
    add_references(
        open_project(cast_repo),
        [wav],
        name="beta",
        text="A different recording of beta.",
        force=True,
    )
    result = render(cast_repo)
    assert rendered(result) == BETA
    reasons = {s.reason for s in result.plan.steps if s.line.label in BETA}
    assert all("reference.tokens_sha256" in r for r in reasons), reasons


def test_changing_a_references_transcript_renders_its_lines(cast_repo: Path) -> None:
    render(cast_repo)
    path = cast_repo / "manifests" / "alpha.json"
    manifest = json.loads(path.read_text())
    manifest["transcript"] = manifest["transcript"].replace("quick", "quick red")
    path.write_bytes(dump_manifest(manifest))
    result = render(cast_repo)
    assert rendered(result) == ALPHA
    assert {s.reason for s in result.run.rendered} == {"changed: reference.transcript_sha256"}


def test_changing_the_engine_pins_renders_that_engines_lines(cast_repo: Path) -> None:
    render(cast_repo)
    edit(cast_repo / "refmgr.toml", 'voice = "en-us"', 'voice = "en"')
    result = render(cast_repo)
    assert rendered(result) == ALL
    assert {s.reason for s in result.run.rendered} == {"changed: engine.pins.voice"}
    assert read_lock(cast_repo)["engine"]["pins"]["voice"] == "en"


def test_comments_spacing_and_references_commit_change_nothing(cast_repo: Path) -> None:
    render(cast_repo)
    edit(cast_repo / "ep.txt", "# A short scene.", "# A short scene.\n\n# more words\n")
    edit(cast_repo / "ep.txt", "Good night.", "Good    night.  ")
    git(cast_repo, "commit", "-q", "--allow-empty", "-m", "unrelated")
    assert rendered(render(cast_repo)) == []


def test_moving_the_checkout_renders_nothing(cast_repo: Path, tmp_path: Path) -> None:
    render(cast_repo)
    lock = (cast_repo / "renders" / "ep.lock.json").read_bytes()
    moved = tmp_path / "elsewhere" / "deeper" / "checkout"
    moved.parent.mkdir(parents=True)
    shutil.move(cast_repo, moved)
    result = render(moved)
    assert rendered(result) == [] and result.run.reused == []
    assert (moved / "renders" / "ep.lock.json").read_bytes() == lock
    assert str(tmp_path) not in lock.decode()


def test_inserted_line_renumbers_by_copying_not_rendering(cast_repo: Path) -> None:
    render(cast_repo)
    before = outputs(cast_repo)
    edit(cast_repo / "ep.txt", "# A short scene.\n", "# A short scene.\nbeta: Hello.\n")
    result = render(cast_repo)
    # Lines without an id move up one number: their audio is copied, only the new line
    # is rendered; lines with an id keep their file.
    assert rendered(result) == ["0001"]
    assert [s.line.label for s in result.run.reused] == ["0002", "0004", "0005"]
    after = outputs(cast_repo)
    assert after["0002-alpha.wav"] == before["0001-alpha.wav"]
    assert after["0004-alpha.wav"] == before["0003-alpha.wav"]
    assert after["0005-beta.wav"] == before["0004-beta.wav"]
    assert after["ask-beta.wav"] == before["ask-beta.wav"]
    assert "0003-alpha.wav" not in after  # was line 3, now nobody's: removed
    check_lock(cast_repo)


def test_only_and_force(cast_repo: Path) -> None:
    render(cast_repo, only=("ask",))
    assert sorted(outputs(cast_repo)) == ["ask-beta.wav"]
    lock = check_lock(cast_repo)
    assert [e["id"] for e in lock["entries"]] == ["ask"]
    assert [m["id"] for m in lock["missing"]] == ["0001", "0003", "0004", "end"]
    assert rendered(render(cast_repo, only=("3", "end"), force=True)) == ["0003", "end"]
    assert rendered(render(cast_repo, force=True)) == ALL


def test_one_engine_serves_every_line(cast_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from refmgr.backends import registry

    built: list[object] = []
    closed: list[object] = []
    real_load = registry.load_engine

    def load_engine(engine_id: str, **kwargs: object) -> object:
        engine = real_load(engine_id, **kwargs)  # type: ignore[arg-type]
        built.append(engine)
        real_close = engine.close
        monkeypatch.setattr(engine, "close", lambda: (closed.append(engine), real_close()))
        return engine

    monkeypatch.setattr(registry, "load_engine", load_engine)
    assert len(rendered(render(cast_repo))) == 5
    assert len(built) == 1 and closed == built


def test_a_no_op_render_leaves_the_lock_alone_whatever_git_does(cast_repo: Path) -> None:
    """Committing the lock once is final: committing the references it was rendered from,
    amending or rebasing those commits (new commit ids) renders nothing and leaves the
    lock's bytes and mtime as they were."""
    manifest = cast_repo / "manifests" / "beta.json"
    manifest.write_text(manifest.read_text().replace('"language": "en"', '"language": "en-US"'))
    lock_file = cast_repo / "renders" / "ep.lock.json"
    assert rendered(render(cast_repo)) == ALL  # beta not committed yet
    data = lock_file.read_bytes()

    def unchanged() -> None:
        mtime = lock_file.stat().st_mtime_ns  # a checkout by git may have rewritten the file
        result = render(cast_repo)
        assert rendered(result) == [] and result.run.reused == []
        assert lock_file.read_bytes() == data
        assert lock_file.stat().st_mtime_ns == mtime  # not even rewritten

    git(cast_repo, "add", "-A")
    git(cast_repo, "commit", "-qm", "beta is American, and the lock")
    unchanged()
    git(cast_repo, "commit", "-q", "--amend", "-m", "beta is American (amended)")
    unchanged()
    # A rebase onto another commit rewrites the commit ids of both references' history.
    git(cast_repo, "checkout", "-q", "-b", "other", "HEAD~1")
    git(cast_repo, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    git(cast_repo, "checkout", "-q", "-")
    git(cast_repo, "rebase", "-q", "other")
    unchanged()
    assert git(cast_repo, "status", "--porcelain") == ""
    # What the lock records of a reference is what decides the sound: its content hashes.
    references = check_lock(cast_repo)["references"]
    assert set(references["beta"]) == {"inputs"}
    assert references["beta"]["inputs"]["language"] == "en-US"


def test_an_output_changed_after_rendering_is_rendered_again(cast_repo: Path) -> None:
    render(cast_repo)
    path = cast_repo / "renders" / "ep" / "ask-beta.wav"
    good = path.read_bytes()
    data = bytearray(good)
    middle = len(data) // 2
    data[middle : middle + 10] = bytes(b ^ 0xFF for b in data[middle : middle + 10])
    path.write_bytes(bytes(data))  # damaged audio; the same size, the key chunk intact
    result = render(cast_repo)
    assert rendered(result) == ["ask"]
    assert result.run.rendered[0].reason == "the output differs from its locked sha256"
    assert path.read_bytes() == good
    check_lock(cast_repo)


def test_a_damaged_output_index_is_only_a_cache_miss(cast_repo: Path) -> None:
    render(cast_repo)
    index = cast_repo / ".refmgr" / "render-ep.outputs.json"
    assert sorted(json.loads(index.read_text())["files"]) == sorted(outputs(cast_repo))
    index.write_text('{"files": {"0001-alpha.wav": [[1, 2')
    assert rendered(render(cast_repo)) == []
    assert sorted(json.loads(index.read_text())["files"]) == sorted(outputs(cast_repo))
