"""`refmgr render report`: the page's content, read back with html.parser (no browser:
tests/deliver/test_report_browser.py opens it in Chromium)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from refmgr.commands.render import report_script
from refmgr.deliver.pictures import HEIGHT, WIDTH, draw, picture_problem
from refmgr.deliver.report import Comparison, LineRow, Provenance, ReportPage, page_html
from refmgr.project import open_project
from refmgr.render.gate import failures
from refmgr.render.output import pcm_of
from tests.support.cli import run_cli, top_level_imports
from tests.support.gitenv import template_git
from tests.support.helpers import RecordingFactory, snapshot
from tests.support.report import read_page, repeated_rows


def _must(*args: str) -> str:
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _lock(root: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((root / "renders" / "ep.lock.json").read_text())  # type: ignore[no-any-return]


def test_one_row_per_line_in_script_order_with_relative_players(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    (cast_repo / "out").mkdir()
    out = _must("render", "report", "ep.txt", "-o", "out/review.html")
    assert out.startswith("report:  out/review.html (5 lines: 5 rendered, 5 kept, 0 failed")
    lock = _lock(cast_repo)
    page = read_page(cast_repo / "out" / "review.html")
    assert [r.id for r in page.rows] == [e["id"] for e in lock["entries"]]
    for row, entry in zip(page.rows, lock["entries"], strict=True):
        assert row.cells["who"] == entry["character"]
        assert row.cells["text"] == entry["text"]
        assert row.cells["dur"] == f"{entry['output']['duration_s']:.3f} s"
        assert f"seed {entry['params']['seed']}" in row.cells["take"]
        [audio] = row.audio
        assert audio["preload"] == "none"
        linked = (cast_repo / "out" / str(audio["src"])).resolve()
        assert linked == (cast_repo / entry["output"]["path"]).resolve()
        [image] = row.images
        assert image["loading"] == "lazy" and image.get("src") is None
        png = base64.b64decode(str(image["data-src"]).removeprefix("data:image/png;base64,"))
        assert picture_problem(png) is None
        assert "data-failing" not in row.attrs and "data-changed" not in row.attrs
    total = sum(e["output"]["duration_s"] for e in lock["entries"])
    assert f"({total:.3f} s)" in page.text
    assert "draft (draft: scratch voices, not clones)" in page.text
    assert "the lock is not committed" in page.text


def test_hostile_script_text_is_inert(cast_repo: Path) -> None:
    hostile = (
        "alpha: Hi </td></tr><script>alert(1)</script><img src=x onerror=alert(2)> \"' & <!-- -->\n"
    )
    (cast_repo / "ep.txt").write_text(hostile)
    _must("render", "ep.txt")
    _must("render", "report", "ep.txt", "-o", "review.html")
    html = (cast_repo / "review.html").read_text()
    page = read_page(cast_repo / "review.html")
    # One script element, the page's own, which the policy allows by its hash alone.
    assert html.count("<script") == 1 and len(page.scripts) == 1
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    [policy] = [
        a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert f"script-src 'sha256-{digest}';" in str(policy)
    assert "default-src 'none'" in str(policy)
    assert not [a for _, a in page.tags if any(k.startswith("on") for k in a)]
    assert [t for t, _ in page.tags].count("img") == 1  # the picture; not the script's
    [row] = page.rows
    assert row.cells["text"] == _lock(cast_repo)["entries"][0]["text"]


def test_changes_since_head_and_since_a_revision(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    template_git(cast_repo, "add", "-A")
    template_git(cast_repo, "commit", "-q", "-m", "first render")
    script = cast_repo / "ep.txt"
    text = script.read_text().replace("{seed=7}", "{seed=9}").replace("Good night.", "Sleep.")
    script.write_text(text)
    _must("render", "ep.txt")
    ids = [e["id"] for e in _lock(cast_repo)["entries"]]
    _must("render", "report", "ep.txt", "-o", "review.html")
    page = read_page(cast_repo / "review.html")
    changed = {r.id: r.cells["changes"] for r in page.rows if "data-changed" in r.attrs}
    assert changed == {ids[2]: "seed: 7 -> 9", "end": "text: Good night. -> Sleep."}
    assert "since HEAD" in page.text
    # Committed: nothing changed since HEAD; since the commit before, every line is new.
    template_git(cast_repo, "add", "-A")
    template_git(cast_repo, "commit", "-q", "-m", "second render")
    out = _must("render", "report", "ep.txt", "-o", "review.html", "--json")
    assert json.loads(out)["changed"] == 0
    out = _must("render", "report", "ep.txt", "-o", "review.html", "--since", "HEAD~1", "--json")
    assert json.loads(out)["changed"] == 2
    out = _must("render", "report", "ep.txt", "-o", "review.html", "--since", "HEAD~2", "--json")
    assert json.loads(out)["changed"] == 5  # no lock then: every line is new
    assert "new line" in read_page(cast_repo / "review.html").rows[0].cells["changes"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-o", "review.txt"], 2, "review.txt: the review page is an .html file"),
        (["-o", "review.html", "--since", "no-such-rev"], 2, "--since no-such-rev: no commit 'no-such-rev'"),
        (["-o", "no/such/dir/review.html"], 1, "no/such/dir: directory does not exist"),
        (["-o", "renders"], 2, "is a directory"),
    ],
)
def test_bad_options_exit_with_one_line_and_change_nothing(
    cast_repo: Path, args: list[str], code: int, message: str
) -> None:
    _must("render", "ep.txt")
    before = snapshot(cast_repo)
    proc = run_cli("render", "report", "ep.txt", *args)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 or code == 2
    assert snapshot(cast_repo) == before


def test_no_lock_and_a_bad_lock_exit_1(cast_repo: Path) -> None:
    before = snapshot(cast_repo)
    proc = run_cli("render", "report", "ep.txt", "-o", "review.html")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "renders/ep.lock.json: no lock: render the script (or merge its shards) first"
    )
    assert snapshot(cast_repo) == before
    (cast_repo / "renders").mkdir(exist_ok=True)
    (cast_repo / "renders" / "ep.lock.json").write_text('{"lock_version": 1}')
    proc = run_cli("render", "report", "ep.txt", "-o", "review.html")
    assert proc.returncode == 1
    assert proc.stderr.startswith("renders/ep.lock.json: not a render lock")
    assert not (cast_repo / "review.html").exists()


def test_embed_puts_each_output_in_the_page(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    _must("render", "report", "ep.txt", "-o", "review.html", "--embed")
    lock = _lock(cast_repo)
    for row, entry in zip(read_page(cast_repo / "review.html").rows, lock["entries"], strict=True):
        src = str(row.audio[0]["src"])
        assert src.startswith("data:audio/wav;base64,")
        data = base64.b64decode(src.removeprefix("data:audio/wav;base64,"))
        assert data == (cast_repo / entry["output"]["path"]).read_bytes()


def test_pictures_come_from_the_cache_which_is_checked(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    first = json.loads(_must("render", "report", "ep.txt", "-o", "a.html", "--json"))
    assert first["pictures"] == {"cached": 0, "drawn": 5}
    second = json.loads(_must("render", "report", "ep.txt", "-o", "b.html", "--json"))
    assert second["pictures"] == {"cached": 5, "drawn": 0}
    assert (cast_repo / "a.html").read_bytes() == (cast_repo / "b.html").read_bytes()
    cached = sorted((cast_repo / ".refmgr" / "report-pictures" / "v1").glob("*.png"))
    assert len(cached) == 5
    cached[0].write_bytes(cached[0].read_bytes()[:-3] + b"xyz")  # a damaged picture
    cached[1].unlink()
    cached[1].symlink_to(cached[2])  # a link: never followed
    third = json.loads(_must("render", "report", "ep.txt", "-o", "c.html", "--json"))
    assert third["pictures"] == {"cached": 3, "drawn": 2}
    assert (cast_repo / "c.html").read_bytes() == (cast_repo / "a.html").read_bytes()


def test_a_changed_output_is_flagged_and_failing(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    entry = _lock(cast_repo)["entries"][1]
    path = cast_repo / entry["output"]["path"]
    data = bytearray(path.read_bytes())
    data[100] ^= 0x55  # a sample
    path.write_bytes(bytes(data))
    out = json.loads(_must("render", "report", "ep.txt", "-o", "review.html", "--json"))
    assert out["failed"] == 1
    row = read_page(cast_repo / "review.html").rows[1]
    assert "data-failing" in row.attrs
    assert "output changed since the lock was written" in row.cells["audio"]


def test_render_report_option_and_the_mix_record(cast_repo: Path) -> None:
    out = _must(
        "render", "ep.txt", "--mix", "ep.wav", "--loudness", "podcast", "--report", "r.html"
    )
    assert "report:  r.html" in out
    header = read_page(cast_repo / "r.html").text
    assert re.search(
        r"ep\.wav, [0-9.]+ s: -1[5-6]\.\d LUFS, -[0-9.]+ dBTP true peak, target podcast met", header
    ), header
    document = json.loads(_must("render", "ep.txt", "--report", "r.html", "--json"))
    assert document["report"]["report"] == "r.html" and document["report"]["lines"] == 5
    proc = run_cli("render", "ep.txt", "--report", "r.txt")
    assert proc.returncode == 2 and "the review page is an .html file" in proc.stderr


def test_failing_scores_are_the_gates(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    project = open_project(cast_repo)
    entry = _lock(cast_repo)["entries"][0]
    samples, rate = pcm_of((cast_repo / entry["output"]["path"]).read_bytes())
    scores = {"lufs": -55.0, "true_peak_db": -3.0, "clipped_ratio": 0.0}
    problems = tuple(failures(scores, project.config.quality.render, draft=True))
    row = LineRow(
        1,
        "0001",
        "alpha",
        "Hello.",
        "renders/ep/0001-alpha.wav",
        1.0,
        picture=None,
        scores=scores,
        problems=problems,
    )
    ok = LineRow(
        2, "0002", "alpha", "Hi.", "renders/ep/0002-alpha.wav", 1.0, scores={"lufs": -20.0}
    )
    html = page_html(
        ReportPage(
            Provenance("ep.txt", "renders/ep.lock.json", "draft", True, {}), [row, ok], scored=True
        )
    )
    path = cast_repo / "p.html"
    path.write_text(html)
    rows = read_page(path).rows
    assert rows[0].bad_scores == ["lufs"] and "data-failing" in rows[0].attrs
    assert "loudness -55.0 LUFS < -40.0" in rows[0].cells["scores"]
    assert rows[1].bad_scores == [] and "data-failing" not in rows[1].attrs
    assert draw(samples, rate)  # the real picture of the same line draws


def test_a_page_of_2000_lines_stays_small_and_lazy(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    entries = _lock(cast_repo)["entries"]
    old = Comparison("old/" + entries[7 % 5]["output"]["path"], 0.91, "path")
    rows = repeated_rows(cast_repo, entries, 2000, {7: old})
    html = page_html(
        ReportPage(Provenance("ep.txt", "renders/ep.lock.json", "draft", True, {}), rows)
    )
    assert len(html) < 2000 * 4096, len(html)  # about 3 KB a line, pictures included
    assert html.count('preload="none"') == html.count("<audio") == 2001  # line 8 has A and B
    assert html.count('loading="lazy"') == html.count("<img") == 2000
    assert html.count(' src="data:image') == 0  # decoded only when the row nears the screen
    assert "A: old (path)" in html and "B: new, similarity 0.91" in html


def test_the_command_writes_outside_the_repository_only_where_told(
    cast_repo: Path, tmp_path: Path
) -> None:
    _must("render", "ep.txt")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = report_script(open_project(cast_repo), cast_repo / "ep.txt", outside / "r.html")
    assert result.path == outside / "r.html" and (outside / "r.html").is_file()
    audio = read_page(outside / "r.html").rows[0].audio[0]["src"]
    assert (outside / str(audio)).resolve() == (
        cast_repo / _lock(cast_repo)["entries"][0]["output"]["path"]
    ).resolve()
    (cast_repo / "linked").symlink_to(outside)
    proc = run_cli("render", "report", "ep.txt", "-o", "linked/r.html")
    assert proc.returncode == 1 and "is a symlink" in proc.stderr


def test_the_picture_is_a_png_of_the_waveform_and_spectrogram() -> None:
    import zlib

    import numpy as np

    rate = 16000
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    png = draw(np.concatenate([tone, np.zeros(rate, np.float32)]), rate)
    assert picture_problem(png) is None and len(png) < 4096
    # Unpack the 4-bit rows (filter 0): the left half is loud, the right half silent.
    idat = png[png.index(b"IDAT") + 4 :]
    raw = zlib.decompress(
        idat[: int.from_bytes(png[png.index(b"IDAT") - 4 : png.index(b"IDAT")], "big")]
    )
    rows = np.frombuffer(raw, np.uint8).reshape(HEIGHT, 1 + WIDTH // 2)[:, 1:]
    pixels = np.stack([rows >> 4, rows & 15], axis=2).reshape(HEIGHT, WIDTH)
    wave = pixels[:28]
    assert (wave[:, : WIDTH // 2 - 2] == 2).sum(axis=0).min() > 10  # a tall waveform
    assert (wave[:, WIDTH // 2 + 2 :] == 2).sum() == 0  # nothing drawn for silence
    spectrum = pixels[28:]
    brightest = spectrum[:, : WIDTH // 2 - 2].max(axis=1)
    assert brightest.argmax() not in (0, spectrum.shape[0] - 1)  # 1 kHz: mid-picture


def test_lines_the_lock_lists_as_missing_are_failed_rows(cast_repo: Path) -> None:
    tokens = cast_repo / "refs" / "beta.npy"
    tokens.write_bytes(tokens.read_bytes()[:-2] + b"\x01\x02")  # refused: sha256 differs
    assert run_cli("render", "ep.txt").returncode == 1
    missing = {m["id"] for m in _lock(cast_repo)["missing"]}
    assert missing == {"ask", "0004"}
    out = json.loads(_must("render", "report", "ep.txt", "-o", "review.html", "--json"))
    assert (out["rendered"], out["kept"], out["failed"]) == (3, 3, 2)
    page = read_page(cast_repo / "review.html")
    failing = {r.id for r in page.rows if "data-failing" in r.attrs}
    assert failing == missing
    assert [r.id for r in page.rows] == ["0001", "ask", "0003", "0004", "end"]
    for row in page.rows:
        assert (row.audio == []) == (row.id in missing)


def test_a_symlinked_renders_folder_is_not_read(cast_repo: Path, tmp_path: Path) -> None:
    _must("render", "ep.txt")
    elsewhere = tmp_path / "elsewhere"
    (cast_repo / "renders" / "ep").rename(elsewhere)
    (cast_repo / "renders" / "ep").symlink_to(elsewhere)
    out = json.loads(_must("render", "report", "ep.txt", "-o", "review.html", "--embed", "--json"))
    assert out["failed"] == 5 and out["pictures"] == {"cached": 0, "drawn": 0}
    for row in read_page(cast_repo / "review.html").rows:
        assert row.audio == [] and "outside the script's renders folder" in row.cells["audio"]


@pytest.mark.parametrize("other", [["--shard", "1/2"], ["--dry-run"]])
def test_render_report_refuses_a_shard_and_a_dry_run(cast_repo: Path, other: list[str]) -> None:
    proc = run_cli("render", "ep.txt", "--report", "r.html", *other)
    assert proc.returncode == 2 and "--report cannot go with" in proc.stderr
    assert not (cast_repo / "renders").exists()


def test_the_page_is_made_on_the_light_path(cast_repo: Path) -> None:
    _must("render", "ep.txt")
    imported = top_level_imports("render", "report", "ep.txt", "-o", "review.html")
    assert "refmgr" in imported and "numpy" in imported
    heavy = {"torch", "fish_speech", "matplotlib", "scipy", "librosa", "onnxruntime", "git"}
    assert not imported & heavy, imported & heavy


def test_the_seam_for_ab_comparison(cast_repo: Path) -> None:
    """render compare (issue 13, part 2) gives the old take of a line: two players."""
    from refmgr.deliver.report import Comparison
    from refmgr.render.review import write_review

    _must("render", "ep.txt")
    lock = _lock(cast_repo)
    old = Comparison(lock["entries"][4]["output"]["path"], 0.87, "path")
    project = open_project(cast_repo)
    write_review(project, "ep", lock, cast_repo / "ab.html", comparisons={"0001": old})
    rows = read_page(cast_repo / "ab.html").rows
    assert [a["class"] for a in rows[0].audio] == ["old", "new"]
    assert [a["src"] for a in rows[0].audio] == [
        old.old_audio,
        lock["entries"][0]["output"]["path"],
    ]
    assert "similarity 0.87" in rows[0].cells["audio"]
    assert all(len(r.audio) == 1 for r in rows[1:])


def test_a_replaced_reference_shows_on_its_characters_lines(
    cast_repo: Path, recording: RecordingFactory
) -> None:
    _must("render", "ep.txt")
    template_git(cast_repo, "add", "-A")
    template_git(cast_repo, "commit", "-q", "-m", "render")
    text = "A new reading of the alpha voice, slower and lower, made for the second act."
    _must("add", str(recording("alpha.wav", text=text)), "--force", "--text", text)
    _must("render", "ep.txt")
    _must("render", "report", "ep.txt", "-o", "review.html")
    lock = _lock(cast_repo)
    alpha = {e["id"] for e in lock["entries"] if e["character"] == "alpha"}
    rows = read_page(cast_repo / "review.html").rows
    assert {r.id for r in rows if "data-changed" in r.attrs} == alpha
    for row in rows:
        if row.id in alpha:
            assert "reference.tokens_sha256: " in row.cells["changes"], row.cells["changes"]
