"""refmgr no-raw-audio: recordings stay out of commits, except where refmgr.toml allows them."""

from __future__ import annotations

import json
from pathlib import Path

from refmgr.commands.no_raw_audio import check_no_raw_audio
from tests.support.cli import run_cli
from tests.support.helpers import git, make_recording

pytest_plugins = ["tests.support.voice_fixtures"]


def test_recordings_by_name_and_by_content(repo: Path) -> None:
    make_recording(repo / "takes" / "alpha.wav", seconds=1.0, sample_rate=8000)
    wav = make_recording(repo / "takes" / "renamed.wav", seconds=1.0, sample_rate=8000)
    wav.rename(repo / "takes" / "renamed.dat")
    (repo / "takes" / "empty.mp3").write_bytes(b"")
    (repo / "notes.txt").write_text("not audio")
    paths = [
        "takes/alpha.wav",
        "takes/renamed.dat",
        "takes/empty.mp3",
        "notes.txt",
        "refs/alpha.npy",
    ]
    result = check_no_raw_audio(repo, paths=[Path(p) for p in paths])
    assert result.checked == 5
    assert [(f.path, f.check) for f in result.findings] == [
        ("takes/alpha.wav", "audio"),
        ("takes/empty.mp3", "audio"),
        ("takes/renamed.dat", "audio"),
    ]
    assert "WAV audio: recordings stay out of git" in result.findings[0].problem
    assert ".mp3 file" in result.findings[1].problem
    proc = run_cli("no-raw-audio", *paths)  # the hook's output: path: problem, exit 1
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [str(f) for f in result.findings]


def test_allowed_globs_and_the_refs_size_limit(repo: Path) -> None:
    make_recording(repo / "examples" / "alpha.wav", seconds=1.0, sample_rate=8000)
    config = repo / "refmgr.toml"
    config.write_text(
        config.read_text()
        .replace("allow_audio = []", 'allow_audio = ["examples/*.wav"]')
        .replace("max_token_bytes = 1048576", "max_token_bytes = 1000")
    )
    result = check_no_raw_audio(repo, paths=[Path("examples/alpha.wav"), Path("refs/alpha.npy")])
    assert result.checked == 2
    assert [(f.path, f.check) for f in result.findings] == [("refs/alpha.npy", "size")]
    proc = run_cli("no-raw-audio", "--json", "examples/alpha.wav", "refs/alpha.npy")
    data = json.loads(proc.stdout)
    assert proc.returncode == 1 and data["checked"] == 2
    assert data["findings"] == [f.to_json() for f in result.findings]


def test_staged_reads_the_index(repo: Path) -> None:
    make_recording(repo / "a.wav", seconds=1.0, sample_rate=8000)
    git(repo, "add", "a.wav")
    (repo / "a.wav").write_text("now it is text")  # the index still holds the recording
    make_recording(repo / "b.flac", seconds=1.0, sample_rate=8000)  # not staged
    result = check_no_raw_audio(repo, staged=True)
    assert [str(f) for f in result.findings] == [
        "a.wav: WAV audio: recordings stay out of git, only their tokens go in (encode it "
        "with refmgr add; or allow this path in refmgr.toml's [hooks] allow_audio)"
    ]


def test_needs_paths_or_staged(repo: Path) -> None:
    proc = run_cli("no-raw-audio")
    assert proc.returncode == 2 and "--staged" in proc.stderr


def test_outside_a_voice_repository(tmp_path: Path) -> None:
    make_recording(tmp_path / "x.ogg", seconds=1.0, sample_rate=8000)
    proc = run_cli("no-raw-audio", "x.ogg", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout.startswith("x.ogg: Ogg audio")


def test_only_the_voice_repository_is_its_business(tmp_path: Path) -> None:
    """In a monorepo, pre-commit passes every staged file from the top: recordings outside
    the voice repository pass (its allow_audio could not allow them), those inside do not."""
    top = tmp_path / "game"
    voices = top / "sub" / "voices"
    assert run_cli("init", "--no-git", voices).returncode == 0
    make_recording(top / "media" / "trailer.wav", seconds=1.0, sample_rate=8000)
    make_recording(voices / "takes" / "a.wav", seconds=1.0, sample_rate=8000)
    files = ["media/trailer.wav", "sub/voices/takes/a.wav"]
    proc = run_cli("no-raw-audio", "--root", "sub/voices", *files, cwd=top)
    assert proc.returncode == 1
    assert [line.split(": ")[0] for line in proc.stdout.splitlines()] == [files[1]]
    proc = run_cli("no-raw-audio", "--json", *files, cwd=top)
    data = json.loads(proc.stdout)  # from the top, outside the voice repository: all checked
    assert proc.returncode == 1 and data["checked"] == 2
    proc = run_cli("no-raw-audio", "--json", "../../media/trailer.wav", cwd=voices)
    assert proc.returncode == 0 and json.loads(proc.stdout)["checked"] == 0
