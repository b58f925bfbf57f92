"""The outputs a render replaces or removes are kept in .refmgr/cache/outputs (render/archive.py):
by sha256, bounded, never written or read through a symlink."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from refmgr.project import open_project
from refmgr.render.archive import OutputArchive
from tests.support.helpers import snapshot
from tests.support.render import read_lock, render


def kept(root: Path) -> Path:
    return root / ".refmgr" / "cache" / "outputs"


def kept_files(root: Path) -> dict[str, bytes]:
    folder = kept(root)
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


def change_line(root: Path, old: str, new: str) -> None:
    script = root / "ep.txt"
    text = script.read_text()
    assert old in text
    script.write_text(text.replace(old, new))


def test_a_replaced_output_is_kept_by_its_sha256(cast_repo: Path) -> None:
    render(cast_repo)
    before = {e["id"]: e["output"] for e in read_lock(cast_repo)["entries"]}
    old_bytes = (cast_repo / before["end"]["path"]).read_bytes()
    assert kept_files(cast_repo) == {}  # a first render replaces nothing
    change_line(cast_repo, "Good night.", "Good night, all.")
    render(cast_repo)
    files = kept_files(cast_repo)
    assert files == {f"{before['end']['sha256']}.wav": old_bytes}
    assert hashlib.sha256(old_bytes).hexdigest() == before["end"]["sha256"]
    found = OutputArchive(open_project(cast_repo)).read(before["end"]["sha256"])
    assert not isinstance(found, str) and found.data == old_bytes
    # The line's new output is untouched by the keeping (a link to the old inode only).
    new = {e["id"]: e["output"] for e in read_lock(cast_repo)["entries"]}["end"]
    data = (cast_repo / new["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == new["sha256"] != before["end"]["sha256"]


def test_a_removed_output_is_kept(cast_repo: Path) -> None:
    render(cast_repo)
    gone = {e["id"]: e["output"] for e in read_lock(cast_repo)["entries"]}["end"]
    change_line(cast_repo, "[end] alpha: Good night.\n", "")
    result = render(cast_repo)
    assert result.run.removed == [gone["path"]]
    assert list(kept_files(cast_repo)) == [f"{gone['sha256']}.wav"]


def test_nothing_is_kept_with_a_cap_of_zero(cast_repo: Path) -> None:
    config = cast_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("keep_outputs_mb = 256", "keep_outputs_mb = 0"))
    render(cast_repo)
    change_line(cast_repo, "Good night.", "Good night, all.")
    render(cast_repo)
    assert not kept(cast_repo).exists()


def test_the_least_recently_used_go_past_the_cap(cast_repo: Path) -> None:
    render(cast_repo)
    outputs = sorted((cast_repo / "renders" / "ep").iterdir())
    archive = OutputArchive(open_project(cast_repo))
    sizes = [p.stat().st_size for p in outputs]
    archive.cap_bytes = sum(sizes[:3])  # room for the first three
    for path in outputs[:3]:
        archive.keep(path)
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in outputs]
    first = kept(cast_repo) / f"{shas[0]}.wav"
    os.utime(first, ns=(1, 1))  # the oldest use...
    assert not isinstance(archive.read(shas[0]), str)  # ...until read: now the newest
    os.utime(kept(cast_repo) / f"{shas[1]}.wav", ns=(2, 2))
    archive.keep(outputs[3])
    assert set(kept_files(cast_repo)) == {f"{shas[i]}.wav" for i in (0, 2, 3)}


def test_the_cache_folder_a_symlink_out_of_the_repository(cast_repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cast_repo / ".refmgr" / "cache").mkdir(parents=True, exist_ok=True)
    kept(cast_repo).symlink_to(elsewhere)
    render(cast_repo)
    change_line(cast_repo, "Good night.", "Good night, all.")
    result = render(cast_repo)
    assert result.ok and result.run.rendered  # keeping is best effort, never a failure
    assert list(elsewhere.iterdir()) == []  # nothing written through the link


def test_bad_entries_are_never_handed_back(cast_repo: Path, tmp_path: Path) -> None:
    render(cast_repo)
    outputs = sorted((cast_repo / "renders" / "ep").iterdir())
    archive = OutputArchive(open_project(cast_repo))
    archive.keep(outputs[0])
    sha = hashlib.sha256(outputs[0].read_bytes()).hexdigest()
    entry = kept(cast_repo) / f"{sha}.wav"
    before = snapshot(cast_repo)
    entry.write_bytes(outputs[1].read_bytes())  # a real output under another's name
    assert "does not hold the audio its name says" in str(archive.read(sha))
    outside = tmp_path / "right-bytes.wav"
    outside.write_bytes(outputs[0].read_bytes())
    entry.unlink()
    entry.symlink_to(outside)  # the right bytes, through a symlink
    assert isinstance(archive.read(sha), str)
    entry.unlink()
    os.mkfifo(entry)  # never opened for a blocking read
    assert isinstance(archive.read(sha), str)
    entry.unlink()
    assert isinstance(archive.read("../../ep.txt"), str)
    archive.keep(outputs[0])
    assert snapshot(cast_repo) == before
