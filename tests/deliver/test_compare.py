"""refmgr render compare: the drift report between two locks of a script, on real renders
(draft engine), real git revisions and the real speaker scorer (refmgr[qa])."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from refmgr.config import DriftLimits
from refmgr.deliver.compare import drift_against
from refmgr.project import open_project
from tests.support.cli import run_cli
from tests.support.drift import CHANGED, kept, render
from tests.support.gitenv import template_git
from tests.support.helpers import git, snapshot

ALPHA = ("a1", "a2", "a3")
MIN = DriftLimits().min_similarity


def compare(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = run_cli("render", "compare", "ep.txt", *args, "--json", cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def old_lock_file(root: Path, tmp_path: Path) -> Path:
    """HEAD's lock as a file: no commit to take alpha's old reference from."""
    old = tmp_path / "old.lock.json"
    old.write_text(git(root, "show", "HEAD:renders/ep.lock.json"))
    return old


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["id"]: line for line in report["lines"]}


def test_a_changed_speaker_drifts_and_fails(drift_repo: Path) -> None:
    before = snapshot(drift_repo)
    code, report = compare(drift_repo, "HEAD")
    lines = by_id(report)
    assert code == 1
    assert report["drifted"] == list(ALPHA)
    for line_id in ALPHA:
        line = lines[line_id]
        assert line["old_audio"]["source"] == "archive", line
        assert line["old_audio"]["verified"]
        assert line["new_audio"]["source"] == "renders"
        assert line["similarity"] < MIN
        assert any(c.startswith("reference.tokens_sha256") for c in line["changes"])
        assert any(p.startswith("speaker similarity") for p in line["problems"])
    for line_id, change in CHANGED.items():
        line = lines[line_id]
        # The same voice saying other words, or the same words a little faster: no drift.
        assert line["similarity"] >= MIN, line
        assert [c for c in line["changes"] if c.startswith(change)], (change, line["changes"])
        assert not any(c.startswith("reference") for c in line["changes"])
        assert line["problems"] == []
    # Duration is judged for the same words only: b1's new text is not a drift.
    assert lines["b1"]["duration_s"]["change"] != 0
    summary = {c["character"]: c for c in report["characters"]}
    assert summary["alpha"]["drifted"] == 3 and summary["alpha"]["worst"] < MIN
    assert summary["beta"]["drifted"] == 0 and summary["beta"]["worst"] >= MIN
    assert summary["beta"]["median"] >= summary["beta"]["worst"]
    # Scores both locks hold are compared (the draft render is scored for level).
    assert "lufs" in lines["a1"]["scores"]
    assert snapshot(drift_repo) == before  # reads only


def test_text_output_says_where_the_old_audio_came_from(drift_repo: Path) -> None:
    proc = run_cli("render", "compare", "ep.txt", "HEAD", cwd=drift_repo)
    assert proc.returncode == 1
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line[:2] in ALPHA}
    assert all("archive" in row and "DRIFT speaker similarity" in row for row in rows.values())
    assert "alpha          3         3" in proc.stdout  # LINES, COMPARED
    assert "3 of 5 lines drift beyond [quality.drift]" in proc.stdout


def test_a_lock_by_revision_and_path(drift_repo: Path) -> None:
    by_path = compare(drift_repo, "HEAD:renders/ep.lock.json")[1]
    by_revision = compare(drift_repo, "HEAD")[1]
    assert by_path.pop("old")["spec"] == "HEAD:renders/ep.lock.json"
    assert by_revision.pop("old")["commit"] is not None
    assert by_path == by_revision
    shutil.copyfile(drift_repo / "renders" / "ep.lock.json", drift_repo / "second.lock.json")
    code, report = compare(drift_repo, "HEAD", "second.lock.json")
    assert report["new"] == {"spec": "second.lock.json", "path": "second.lock.json", "commit": None}
    assert report["drifted"] == list(ALPHA) and code == 1


def test_the_same_lock_on_both_sides_is_no_drift(drift_repo: Path) -> None:
    code, report = compare(drift_repo, "renders/ep.lock.json")
    assert code == 0
    assert {line["old_audio"]["source"] for line in report["lines"]} == {"same"}
    assert {line["similarity"] for line in report["lines"]} == {1.0}


def test_without_the_kept_outputs_the_same_engine_renders_the_old_audio_again(
    drift_repo: Path,
) -> None:
    shutil.rmtree(kept(drift_repo))
    code, report = compare(drift_repo, "HEAD")
    lines = by_id(report)
    # beta's reference and the engine are as they were; alpha's is read from HEAD.
    for line_id in (*CHANGED, *ALPHA):
        assert lines[line_id]["old_audio"]["source"] == "rerendered", lines[line_id]
        assert lines[line_id]["old_audio"]["verified"]  # byte for byte the locked output
    assert report["drifted"] == list(ALPHA) and code == 1


def test_a_line_whose_old_audio_is_nowhere(drift_repo: Path, tmp_path: Path) -> None:
    shutil.rmtree(kept(drift_repo))
    old = old_lock_file(drift_repo, tmp_path)
    code, report = compare(drift_repo, str(old))
    lines = by_id(report)
    for line_id in CHANGED:
        assert lines[line_id]["old_audio"]["source"] == "rerendered"
    for line_id in ALPHA:
        assert lines[line_id]["old_audio"]["source"] == "unavailable"
        assert "reference alpha changed since" in lines[line_id]["old_audio"]["detail"]
        assert lines[line_id]["similarity"] is None
    assert report["unavailable"] == list(ALPHA)
    assert code == 1  # lines that could not be compared fail a guard...
    proc = run_cli("render", "compare", "ep.txt", str(old), "--allow-unavailable", cwd=drift_repo)
    assert proc.returncode == 0, proc.stdout  # ...unless allowed; and they are still listed
    assert "a1: old audio unavailable: " in proc.stdout


def test_a_render_again_that_gives_other_bytes_is_said_so(drift_repo: Path, tmp_path: Path) -> None:
    lock = json.loads(git(drift_repo, "show", "HEAD:renders/ep.lock.json"))
    entries = {e["id"]: e for e in lock["entries"]}
    entries["b1"]["output"]["sha256"] = "0" * 64  # what the engine here will not make
    entries["b2"]["text"] = "Words its key was not made from."
    old = tmp_path / "edited.lock.json"
    old.write_text(json.dumps(lock))
    shutil.rmtree(kept(drift_repo))
    code, report = compare(drift_repo, str(old))
    lines = by_id(report)
    assert lines["b1"]["old_audio"]["source"] == "rerendered"
    assert not lines["b1"]["old_audio"]["verified"]
    assert "differ from the lock's sha256" in lines["b1"]["old_audio"]["detail"]
    assert lines["b1"]["similarity"] is not None  # compared anyway, and said so
    proc = run_cli("render", "compare", "ep.txt", str(old), cwd=drift_repo)
    assert "rerendered (unverified)" in proc.stdout
    assert lines["b2"]["old_audio"]["source"] == "unavailable"
    assert "the lock's key is not the hash of its inputs" in lines["b2"]["old_audio"]["detail"]
    assert code == 1


def test_a_long_line_rendered_in_chunks(drift_repo: Path) -> None:
    template_git(drift_repo, "add", "-A")
    template_git(drift_repo, "commit", "-q", "-m", "second render")
    sentence = "The lamp is lit and the sea is calm tonight, far out past the rocks. "
    with (drift_repo / "ep.txt").open("a") as f:
        f.write(f"[long] beta: {sentence * 8}\n")
    render(drift_repo)
    assert "chunking" in next(
        e
        for e in json.loads((drift_repo / "renders" / "ep.lock.json").read_text())["entries"]
        if e["id"] == "long"
    )
    template_git(drift_repo, "add", "-A")
    template_git(drift_repo, "commit", "-q", "-m", "a long line")
    script = drift_repo / "ep.txt"
    script.write_text(script.read_text().replace("far out past", "far beyond"))
    render(drift_repo)
    code, report = compare(drift_repo, "HEAD")
    line = by_id(report)["long"]
    assert line["old_audio"]["source"] == "archive" and line["similarity"] >= MIN
    assert code == 0
    shutil.rmtree(kept(drift_repo))
    code, report = compare(drift_repo, "HEAD")
    assert "a line rendered in chunks" in by_id(report)["long"]["old_audio"]["detail"]
    assert report["unavailable"] == ["long"] and code == 1


def test_old_audio_from_a_folder(drift_repo: Path, tmp_path: Path) -> None:
    old_lock = json.loads(git(drift_repo, "show", "HEAD:renders/ep.lock.json"))
    folder = tmp_path / "old-renders"
    folder.mkdir()
    for entry in old_lock["entries"]:
        name = Path(entry["output"]["path"]).name
        shutil.copyfile(kept(drift_repo) / f"{entry['output']['sha256']}.wav", folder / name)
    shutil.rmtree(kept(drift_repo))
    # a1's file under another name: found by its content; a2's name holds other audio.
    (folder / "a1-alpha.wav").rename(folder / "take-one.wav")
    shutil.copyfile(folder / "a3-alpha.wav", folder / "a2-alpha.wav")
    old = old_lock_file(drift_repo, tmp_path)
    code, report = compare(drift_repo, str(old), "--old-audio", str(folder))
    lines = by_id(report)
    assert code == 1
    assert lines["a1"]["old_audio"] == {
        "source": "given",
        "detail": str(folder / "take-one.wav"),
        "path": str(folder / "take-one.wav"),
        "verified": True,
    }
    assert lines["a3"]["old_audio"]["source"] == "given"
    assert lines["a2"]["old_audio"]["source"] == "unavailable"
    assert "is not the old output" in lines["a2"]["old_audio"]["detail"]
    assert report["drifted"] == ["a1", "a3"]


def test_an_engine_upgrade_with_the_same_voices(drift_repo: Path) -> None:
    """What CI guards: the engine's pins move (here the draft engine's eSpeak voice, as a
    checkpoint moved by `refmgr model pin` would), every line renders again."""
    template_git(drift_repo, "add", "-A")
    template_git(drift_repo, "commit", "-q", "-m", "second render")
    config = drift_repo / "refmgr.toml"
    config.write_text(config.read_text().replace('voice = "en-us"', 'voice = "en-gb-x-rp"'))
    render(drift_repo)
    code, report = compare(drift_repo, "HEAD")
    assert code == 0, report
    assert report["notes"] == ["engine pins.voice en-us -> en-gb-x-rp"]
    for line in report["lines"]:
        assert line["changes"] == ["pins.voice: en-us -> en-gb-x-rp"]
        assert line["old_audio"]["source"] == "archive"
        assert line["similarity"] >= MIN
    # A stricter guard in refmgr.toml fails the same upgrade.
    text = config.read_text()
    assert f"\nmin_similarity = {MIN}\n" in text  # [quality.drift], as refmgr init wrote it
    config.write_text(text.replace(f"\nmin_similarity = {MIN}\n", "\nmin_similarity = 0.99\n"))
    code, report = compare(drift_repo, "HEAD")
    assert code == 1 and report["drifted"]
    # The old engine is gone: with no kept outputs, nothing can be compared.
    shutil.rmtree(kept(drift_repo))
    code, report = compare(drift_repo, "HEAD~1", "HEAD")  # two revisions, nothing on disk
    assert code == 1
    lines = by_id(report)
    assert lines["a1"]["old_audio"]["source"] == "unavailable"
    code, report = compare(drift_repo, "HEAD")
    detail = report["lines"][0]["old_audio"]["detail"]
    assert "engine draft here is not the one of the lock (pins.voice en-us -> en-gb-x-rp)" in detail


def test_lines_in_one_lock_only_are_listed(drift_repo: Path) -> None:
    script = drift_repo / "ep.txt"
    text = script.read_text().replace("[a3] alpha:", "[a4] alpha:")
    script.write_text(text)
    render(drift_repo)
    code, report = compare(drift_repo, "HEAD")
    assert code == 1  # alpha still drifts
    assert report["only_old"] == [{"id": "a3", "character": "alpha"}]
    assert report["only_new"] == [{"id": "a4", "character": "alpha"}]
    assert "a3" not in by_id(report)
    proc = run_cli("render", "compare", "ep.txt", "HEAD", cwd=drift_repo)
    assert "only in old: a3 (alpha)" in proc.stdout


def test_the_review_page_entry_point(drift_repo: Path) -> None:
    report = drift_against(open_project(drift_repo), "ep", "HEAD")
    line = next(line for line in report.lines if line.id == "a1")
    assert line.old_audio.path is not None and line.old_audio.data is not None
    assert line.old_audio.path.read_bytes() == line.old_audio.data
    assert line.new_audio.path == drift_repo / "renders" / "ep" / "a1-alpha.wav"
    assert line.similarity is not None and line.drifted


# --- bad input: one line, exit 1 or 2, the repository as it was, never a crash (3) -----


def one_line_error(root: Path, *args: str, code: int = 1) -> str:
    before = snapshot(root)
    proc = run_cli("render", "compare", "ep.txt", *args, cwd=root)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert snapshot(root) == before
    return proc.stderr.strip()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "not a render lock (invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not a render lock"),
        (b'{"lock_version": 1, "script": "\\ud800"}', "lone surrogate"),
        (b'{"lock_version": 1}', "not a render lock: "),
        (b"\xff\xfe", "not a render lock (invalid JSON"),
    ],
)
def test_a_revision_whose_lock_is_not_a_lock(
    drift_repo: Path, content: bytes, problem: str
) -> None:
    lock = drift_repo / "renders" / "ep.lock.json"
    good = lock.read_bytes()
    lock.write_bytes(content)
    template_git(drift_repo, "commit", "-q", "-am", "a broken lock")
    lock.write_bytes(good)
    error = one_line_error(drift_repo, "HEAD")
    assert error.startswith("HEAD:renders/ep.lock.json: ") and problem in error


def test_a_lock_that_points_out_of_the_repository(drift_repo: Path, tmp_path: Path) -> None:
    """A valid lock from elsewhere whose outputs lie outside the repository and whose
    character is a path: nothing outside is read, nothing is written, no crash."""
    lock = json.loads(git(drift_repo, "show", "HEAD:renders/ep.lock.json"))
    a1 = lock["entries"][0]
    outside = tmp_path / "a1.wav"
    shutil.copyfile(kept(drift_repo) / f"{a1['output']['sha256']}.wav", outside)
    shutil.rmtree(kept(drift_repo))
    a1["output"]["path"] = f"../{outside.name}"
    lock["entries"][1]["output"]["path"] = str(outside)
    lock["entries"][2]["character"] = "../../evil"
    lock["references"]["../../evil"] = lock["references"]["alpha"]
    hostile = tmp_path / "hostile.lock.json"
    hostile.write_text(json.dumps(lock))
    before = snapshot(drift_repo)
    code, report = compare(drift_repo, str(hostile))
    lines = by_id(report)
    assert lines["a1"]["old_audio"]["source"] == "unavailable"
    assert "character: ../../evil -> alpha" in lines["a2"]["changes"]
    assert "'../../evil' is not a reference name" in lines["a2"]["old_audio"]["detail"]
    assert code == 1 and snapshot(drift_repo) == before


@pytest.mark.parametrize(
    ("args", "code", "problem"),
    [
        (["no-such-revision"], 1, "no-such-revision: no commit 'no-such-revision'"),
        (["--", "-x"], 1, "not a git revision"),
        (["HEAD:../../etc/passwd"], 1, "must be relative to the repository root"),
        (["HEAD:refmgr.toml"], 1, "not a render lock (invalid JSON"),
        (["HEAD:renders/none.lock.json"], 1, "is not in commit"),
        (["HEAD:renders"], 1, "is not a file"),
    ],
)
def test_bad_sides(drift_repo: Path, args: list[str], code: int, problem: str) -> None:
    assert problem in one_line_error(drift_repo, *args, code=code)


def test_old_audio_must_be_a_folder(drift_repo: Path) -> None:
    proc = run_cli("render", "compare", "ep.txt", "HEAD", "--old-audio", "refmgr.toml")
    assert proc.returncode == 2  # Click's usage error
    assert "Invalid value for '--old-audio'" in proc.stderr


def test_a_kept_output_whose_bytes_are_not_its_name_is_not_used(
    drift_repo: Path, tmp_path: Path
) -> None:
    old = by_id(compare(drift_repo, "HEAD")[1])
    a1 = kept(drift_repo) / f"{old['a1']['sha256']['old']}.wav"
    a2 = kept(drift_repo) / f"{old['a2']['sha256']['old']}.wav"
    os.unlink(a1)
    shutil.copyfile(a2, a1)  # a real output, under another output's name
    code, report = compare(drift_repo, str(old_lock_file(drift_repo, tmp_path)))
    line = by_id(report)["a1"]
    assert line["old_audio"]["source"] == "unavailable"
    assert "does not hold the audio its name says" in line["old_audio"]["detail"]
    assert by_id(report)["a2"]["old_audio"]["source"] == "archive"
    assert code == 1
    # From HEAD, the real old audio is made again (alpha's reference as committed there).
    line = by_id(compare(drift_repo, "HEAD")[1])["a1"]
    assert line["old_audio"]["source"] == "rerendered" and line["old_audio"]["verified"]
    assert line["similarity"] == old["a1"]["similarity"]


@pytest.mark.parametrize(
    ("manifest", "problem"),
    [(b"{not json", "its reference cannot be used"), (None, "there is no manifests/alpha.json")],
)
def test_a_reference_committed_broken_is_not_rendered_from(
    drift_repo: Path, manifest: bytes | None, problem: str
) -> None:
    """The lock of a commit whose alpha manifest is not one (or missing): alpha's old lines
    cannot be made again from that commit, and say why."""
    saved = {p: p.read_bytes() for p in (drift_repo / "manifests").iterdir()}
    lock = drift_repo / "renders" / "ep.lock.json"
    saved[lock] = lock.read_bytes()
    lock.write_text(git(drift_repo, "show", "HEAD:renders/ep.lock.json"))
    alpha = drift_repo / "manifests" / "alpha.json"
    if manifest is None:
        alpha.unlink()
    else:
        alpha.write_bytes(manifest)
    template_git(drift_repo, "add", "-A")
    template_git(drift_repo, "commit", "-q", "--no-verify", "-m", "a broken alpha")
    for path, data in saved.items():
        path.write_bytes(data)
    shutil.rmtree(kept(drift_repo))
    before = snapshot(drift_repo)
    code, report = compare(drift_repo, "HEAD")
    for line_id in ALPHA:
        detail = by_id(report)[line_id]["old_audio"]["detail"]
        assert "reference alpha changed since" in detail and problem in detail, detail
    assert code == 1 and snapshot(drift_repo) == before


def test_a_symlink_in_the_kept_outputs_is_not_followed(drift_repo: Path, tmp_path: Path) -> None:
    report = compare(drift_repo, "HEAD")[1]
    sha = by_id(report)["a1"]["sha256"]["old"]
    entry = kept(drift_repo) / f"{sha}.wav"
    outside = tmp_path / "outside.wav"
    shutil.move(entry, outside)  # the right bytes, but outside the repository
    entry.symlink_to(outside)
    old = str(old_lock_file(drift_repo, tmp_path))
    code, report = compare(drift_repo, old)
    assert by_id(report)["a1"]["old_audio"]["source"] == "unavailable"
    assert by_id(report)["a2"]["old_audio"]["source"] == "archive"
    assert code == 1
    # The folder itself a symlink out of the repository: nothing is read through it.
    shutil.move(kept(drift_repo), tmp_path / "elsewhere")
    kept(drift_repo).symlink_to(tmp_path / "elsewhere")
    code, report = compare(drift_repo, old)
    assert {by_id(report)[i]["old_audio"]["source"] for i in ALPHA} == {"unavailable"}


def test_without_the_qa_extra_it_is_a_usage_error(drift_repo: Path) -> None:
    code = (
        "import sys\n"
        "for name in ('resemblyzer', 'speechmos', 'pyloudnorm', 'webrtcvad'):\n"
        "    sys.modules[name] = None\n"
        "from refmgr.cli import main\n"
        "sys.exit(main())\n"
    )
    before = snapshot(drift_repo)
    proc = subprocess.run(
        [sys.executable, "-c", code, "render", "compare", "ep.txt", "HEAD"],
        cwd=drift_repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "speaker similarity (render compare) is not available" in proc.stderr
    assert "install refmgr[qa]" in proc.stderr
    assert snapshot(drift_repo) == before


def test_the_review_page_plays_the_old_take_beside_the_new(drift_repo: Path) -> None:
    """render report --compare OLD: A/B players, the old take linked where it is kept and
    the similarity the drift report measured; lines whose audio did not move show one."""
    from tests.support.report import read_page

    proc = run_cli(
        "render", "report", "ep.txt", "-o", "ab.html", "--compare", "HEAD", cwd=drift_repo
    )
    assert proc.returncode == 0, proc.stderr
    drift = by_id(compare(drift_repo, "HEAD")[1])
    rows = {row.id: row for row in read_page(drift_repo / "ab.html").rows}
    assert set(rows) == set(drift)
    for line_id, row in rows.items():
        assert [a["class"] for a in row.audio] == ["old", "new"], line_id
        old, new = (str(a["src"]) for a in row.audio)
        assert not old.startswith("data:")  # kept outputs are linked, not embedded
        assert (drift_repo / old).stat().st_size > 0, (line_id, old)
        if line_id in CHANGED or line_id in ALPHA:  # audio that moved: two files
            assert old != new, line_id
        similarity = drift[line_id]["similarity"]
        assert f"similarity {similarity:.2f}" in row.cells["audio"], (line_id, row.cells)
    for line_id in ALPHA:  # the re-added voice: the old take is the kept first render's
        assert str(rows[line_id].audio[0]["src"]).startswith(".refmgr/cache/outputs/")
