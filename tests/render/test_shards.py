"""--shard K/N and `render merge`: the merged lock is the lock of one whole render."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from refmgr.commands.render import merge_shards
from refmgr.errors import RefmgrError
from refmgr.project import open_project
from refmgr.render.plan import Shard
from tests.support.cli import run_cli
from tests.support.helpers import one_line_error, snapshot
from tests.support.render import check_lock, outputs, read_lock, render, rendered


def test_three_shards_merged_equal_one_whole_render(cast_repo: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    shutil.copytree(cast_repo, whole, symlinks=True)
    render(whole)

    done: list[str] = []
    for k in (1, 2, 3):
        result = render(cast_repo, shard=Shard(k, 3))
        done += rendered(result)
        shard_lock = cast_repo / "renders" / f"ep.shard-{k}-of-3.lock.json"
        assert shard_lock.is_file()
    assert sorted(done) == sorted(["0001", "ask", "0003", "0004", "end"])
    assert not (cast_repo / "renders" / "ep.lock.json").exists()

    result = merge_shards(open_project(cast_repo), Path("ep.txt"))
    assert (result.entries, result.missing) == (5, 0)
    merged = (cast_repo / "renders" / "ep.lock.json").read_bytes()
    assert merged == (whole / "renders" / "ep.lock.json").read_bytes()
    assert outputs(cast_repo) == outputs(whole)
    assert not list((cast_repo / "renders").glob("*.shard-*"))
    check_lock(cast_repo)
    assert rendered(render(cast_repo)) == []


def test_shards_split_round_robin_and_leave_other_lines_alone(cast_repo: Path) -> None:
    result = render(cast_repo, shard=Shard(2, 3))
    assert rendered(result) == ["ask", "end"]
    assert sorted(outputs(cast_repo)) == ["ask-beta.wav", "end-alpha.wav"]


def test_merge_refuses_incomplete_or_mismatched_shards(cast_repo: Path) -> None:
    project = open_project(cast_repo)
    with pytest.raises(RefmgrError, match="no shard locks"):
        merge_shards(project, Path("ep.txt"))
    render(cast_repo, shard=Shard(1, 2))
    with pytest.raises(RefmgrError, match=r"shard 2/2 is missing"):
        merge_shards(project, Path("ep.txt"))
    # Shard 2 rendered from another version of the script: the plans differ.
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("Good night.", "Sleep well."))
    render(cast_repo, shard=Shard(2, 2))
    with pytest.raises(RefmgrError, match="'plan_sha256' differs"):
        merge_shards(project, Path("ep.txt"))


def test_merge_checks_every_output(cast_repo: Path) -> None:
    for k in (1, 2):
        render(cast_repo, shard=Shard(k, 2))
    (cast_repo / "renders" / "ep" / "ask-beta.wav").unlink()  # an artifact that never arrived
    with pytest.raises(
        RefmgrError, match=r"ask-beta\.wav: listed by a shard lock but missing or incomplete"
    ):
        merge_shards(open_project(cast_repo), Path("ep.txt"))
    assert not (cast_repo / "renders" / "ep.lock.json").exists()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda lock: lock["entries"][0].pop("index"), "entries.0: 'index' is a required property"),
        (
            lambda lock: lock["entries"][1].update(output="renders/ep/ask-beta.wav"),
            "entries.1.output: 'renders/ep/ask-beta.wav' is not of type 'object'",
        ),
        (
            lambda lock: lock["entries"][0]["output"].update(sha256=None),
            "entries.0.output.sha256: None is not of type 'string'",
        ),
        (
            lambda lock: lock["entries"][0].update(index=True),
            "entries.0.index: True is not of type 'integer'",
        ),
        (lambda lock: lock["missing"].append(3), "missing.0: 3 is not of type 'object'"),
        (lambda lock: lock.update(engine="draft"), "engine: 'draft' is not of type 'object'"),
        (
            lambda lock: lock["references"]["alpha"].pop("inputs"),
            "references.alpha: 'inputs' is a required property",
        ),
        (
            lambda lock: lock["references"].pop("alpha"),
            "entries.0.character 'alpha' is not in 'references'",
        ),
        (lambda lock: lock.pop("lines"), "top level: 'lines' is a required property"),
    ],
    ids=[
        "no-index",
        "output-string",
        "sha256-null",
        "index-bool",
        "missing-int",
        "engine-string",
        "no-inputs",
        "unknown-character",
        "no-lines",
    ],
)
def test_merge_refuses_a_malformed_shard_lock(
    cast_repo: Path, damage: Callable[[dict[str, Any]], object], problem: str
) -> None:
    for k in (1, 2):
        render(cast_repo, shard=Shard(k, 2))
    path = cast_repo / "renders" / "ep.shard-1-of-2.lock.json"
    lock = json.loads(path.read_text())
    damage(lock)
    path.write_text(json.dumps(lock))
    before = snapshot(cast_repo)
    proc = run_cli("render", "merge", "ep.txt")
    assert proc.returncode == 1, proc.stderr
    assert one_line_error(
        proc.stderr, f"renders/ep.shard-1-of-2.lock.json: not a render lock: {problem}"
    ), proc.stderr
    assert snapshot(cast_repo) == before


def test_scripts_with_one_file_name_do_not_take_each_others_outputs(cast_repo: Path) -> None:
    for folder in ("ep1", "ep2"):
        (cast_repo / folder).mkdir()
    (cast_repo / "ep1" / "episode.txt").write_text("alpha: The first episode.\n")
    (cast_repo / "ep2" / "episode.txt").write_text("beta: The second episode.\n")
    assert run_cli("render", "ep1/episode.txt").returncode == 0
    lock = read_lock(cast_repo, "episode")
    assert lock["script_path"] == "ep1/episode.txt"
    before = snapshot(cast_repo)
    problem = (
        "ep2/episode.txt: renders/episode.lock.json belongs to another script, "
        "ep1/episode.txt; scripts with the same file name would share renders/episode/: "
        "rename this script"
    )
    for args in (
        ["render"],
        ["render", "status"],
        ["render", "merge"],
        ["render", "--shard", "1/2"],
    ):
        proc = run_cli(*args, "ep2/episode.txt")
        assert proc.returncode == 1, args
        assert one_line_error(proc.stderr, problem), proc.stderr
    proc = run_cli("render", "mix", "ep2/episode.txt", "-o", "mix.wav")
    assert proc.returncode == 1 and one_line_error(proc.stderr, problem), proc.stderr
    assert snapshot(cast_repo) == before  # ep1's outputs and lock are untouched
    # The same script named from elsewhere is the same script.
    proc = run_cli("render", "episode.txt", cwd=cast_repo / "ep1")
    assert proc.returncode == 0 and "kept 1" in proc.stdout, proc.stderr
    proc = run_cli("render", "../ep1/./episode.txt", cwd=cast_repo / "ep2")
    assert proc.returncode == 0, proc.stderr


def test_a_shard_lock_of_another_script_is_refused_too(cast_repo: Path) -> None:
    for folder in ("ep1", "ep2"):
        (cast_repo / folder).mkdir()
        (cast_repo / folder / "episode.txt").write_text(f"alpha: Episode {folder}.\n")
    assert run_cli("render", "ep1/episode.txt", "--shard", "1/2").returncode == 0
    proc = run_cli("render", "ep2/episode.txt")
    assert proc.returncode == 1
    assert one_line_error(
        proc.stderr,
        "ep2/episode.txt: renders/episode.shard-1-of-2.lock.json belongs to another script",
    )
    assert (cast_repo / "renders" / "episode.shard-1-of-2.lock.json").is_file()


def test_the_lock_of_a_script_outside_the_repository_names_only_the_file(
    cast_repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "ep.txt"
    outside.parent.mkdir()
    shutil.copyfile(cast_repo / "ep.txt", outside)
    result = render(cast_repo, "../elsewhere/ep.txt")
    assert result.ok
    raw = (cast_repo / "renders" / "ep.lock.json").read_text()
    assert json.loads(raw)["script_path"] == "ep.txt"
    assert str(tmp_path) not in raw
    # ... and so it is the same script as ep.txt at the repository root.
    assert rendered(render(cast_repo)) == []


def test_merge_from_bundles_replaces_stale_copies_and_refuses_bad_bundles(
    cast_repo: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "whole"
    shutil.copytree(cast_repo, whole, symlinks=True)
    render(whole)
    render(cast_repo)  # what a restored cache holds
    ep = cast_repo / "ep.txt"
    ep.write_text(ep.read_text().replace("Did you see", "Have you seen"))
    shutil.copyfile(ep, whole / "ep.txt")
    render(whole)
    bundles = []
    for k in (1, 2):
        render(cast_repo, shard=Shard(k, 2))
        bundle = tmp_path / f"bundle-{k}"
        proc = run_cli("render", "export", "ep.txt", "--shard", f"{k}/2", bundle)
        assert proc.returncode == 0, proc.stderr
        bundles.append(bundle)
    assert sorted(p.name for p in (bundles[1] / "renders" / "ep").iterdir()) == [
        "0004-beta.wav",
        "ask-beta.wav",
    ]
    again = run_cli("render", "export", "ep.txt", "--shard", "1/2", bundles[1])
    assert again.returncode == 1 and one_line_error(again.stderr, "not an empty folder")
    # A stale copy of line 'ask' in renders/ (shard 1's checkout had it from the cache).
    stale = cast_repo / "renders" / "ep" / "ask-beta.wav"
    stale.write_bytes((whole / "renders" / "ep" / "0001-alpha.wav").read_bytes())
    for path in cast_repo.glob("renders/*.shard-*"):
        path.unlink()

    # Bad bundles change nothing: an output path outside the outputs folder, a symlink.
    lock_file = bundles[1] / "renders" / "ep.shard-2-of-2.lock.json"
    good = lock_file.read_text()
    lock_file.write_text(good.replace('"path": "renders/ep/ask-beta.wav"', '"path": "../x.wav"'))
    before = snapshot(cast_repo)
    proc = run_cli("render", "merge", "ep.txt", *bundles)
    assert proc.returncode == 1 and one_line_error(
        proc.stderr, "ep.shard-2-of-2.lock.json: output path '../x.wav' is not a file of"
    ), proc.stderr
    lock_file.write_text(good)
    output = bundles[1] / "renders" / "ep" / "ask-beta.wav"
    output.rename(tmp_path / "elsewhere.wav")
    output.symlink_to(tmp_path / "elsewhere.wav")
    proc = run_cli("render", "merge", "ep.txt", *bundles)
    assert proc.returncode == 1 and one_line_error(proc.stderr, "ask-beta.wav: not a regular file")
    assert snapshot(cast_repo) == before
    output.unlink()
    (tmp_path / "elsewhere.wav").rename(output)

    proc = run_cli("render", "merge", "ep.txt", *bundles, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["copied"] == ["renders/ep/ask-beta.wav"]
    assert (cast_repo / "renders" / "ep.lock.json").read_bytes() == (
        whole / "renders" / "ep.lock.json"
    ).read_bytes()
    assert outputs(cast_repo) == outputs(whole)
