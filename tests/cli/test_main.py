from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest
import soundfile

from refmgr.cli import main
from refmgr.commands.add import add_references
from refmgr.project import open_project
from tests.support.cli import run_cli, top_level_imports
from tests.support.helpers import RecordingFactory, git, one_line_error, snapshot


@pytest.fixture
def alpha(voice_repo: Path, recording: RecordingFactory) -> Path:
    rec = recording("alpha.wav", seconds=6.0)
    add_references(open_project(voice_repo), [rec], text="Alpha speaks.")
    return voice_repo


def test_init_is_idempotent(tmp_path: Path) -> None:
    proc = run_cli("init", tmp_path / "v")
    assert proc.returncode == 0
    assert "created refmgr.toml" in proc.stdout
    assert "initialized git repository" in proc.stdout
    before = snapshot(tmp_path / "v")
    again = run_cli("init", tmp_path / "v")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert snapshot(tmp_path / "v") == before
    attributes = (tmp_path / "v" / ".gitattributes").read_text()
    assert "/refs/*.npy binary" in attributes


def test_init_keeps_an_existing_config_and_reports_a_broken_one(tmp_path: Path) -> None:
    root = tmp_path / "v"
    root.mkdir()
    (root / "refmgr.toml").write_text("schema_version = 1\n[limts]\n")
    proc = run_cli("init", root)
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "refmgr.toml", "unknown key 'limts'")
    assert (root / "refmgr.toml").read_text() == "schema_version = 1\n[limts]\n"


def test_ls_show_json(alpha: Path) -> None:
    listing = json.loads(run_cli("ls", "--json").stdout)
    assert listing[0]["name"] == "alpha" and listing[0]["codec"] == "codec2-3200"
    assert listing[0]["frames"] == 300
    shown = json.loads(run_cli("show", "alpha", "--json").stdout)
    assert shown["tokens_status"] == "ok"
    assert shown["manifest"]["transcript"] == "Alpha speaks."
    table = run_cli("ls").stdout.splitlines()
    assert table[0].split() == ["NAME", "CODEC", "DURATION", "FRAMES", "TOKENS", "TRANSCRIPT"]
    assert table[1].startswith("alpha  codec2-3200")


def test_show_reports_tampered_tokens(alpha: Path) -> None:
    tokens = alpha / "refs" / "alpha.npy"
    data = bytearray(tokens.read_bytes())
    data[-1] ^= 0xFF
    tokens.write_bytes(bytes(data))
    proc = run_cli("show", "alpha")
    assert proc.returncode == 1
    assert "does not match the manifest" in proc.stdout


def test_ls_reports_broken_manifest_but_lists_the_rest(alpha: Path) -> None:
    (alpha / "manifests" / "broken.json").write_text("{")
    proc = run_cli("ls", "--json")
    assert proc.returncode == 1
    assert [r["name"] for r in json.loads(proc.stdout)] == ["alpha"]
    assert one_line_error(proc.stderr, "manifests/broken.json", "invalid JSON")


def test_unknown_reference(alpha: Path) -> None:
    for args in (["show", "beta"], ["decode", "beta", "-o", "x.wav"], ["rm", "beta"]):
        proc = run_cli(*args)
        assert proc.returncode == 1
        assert one_line_error(proc.stderr, "no reference 'beta' (known: alpha)")


def test_decode_writes_wav_and_is_repeatable(alpha: Path, tmp_path: Path) -> None:
    out1, out2 = tmp_path / "a.wav", tmp_path / "b.wav"
    assert run_cli("decode", "alpha", "-o", out1).returncode == 0
    assert run_cli("decode", "alpha", "-o", out2).returncode == 0
    assert out1.read_bytes() == out2.read_bytes()
    info = soundfile.info(out1)
    assert info.samplerate == 8000 and info.frames == 300 * 160
    proc = run_cli("decode", "alpha", "-o", tmp_path / "c.wav", "--sample-rate", "16000", "--json")
    assert json.loads(proc.stdout)["sample_rate"] == 16000


def test_decode_refuses_tampered_tokens(alpha: Path, tmp_path: Path) -> None:
    tokens = alpha / "refs" / "alpha.npy"
    tokens.write_bytes(tokens.read_bytes()[:-10])
    proc = run_cli("decode", "alpha", "-o", tmp_path / "x.wav")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "refs/alpha.npy", "truncated or padded")
    assert not (tmp_path / "x.wav").exists()


def test_rm_removes_both_and_stages(alpha: Path) -> None:
    git(alpha, "add", "-A")
    git(alpha, "commit", "-qm", "alpha")
    proc = run_cli("rm", "alpha", "--stage")
    assert proc.returncode == 0, proc.stderr
    assert not (alpha / "refs" / "alpha.npy").exists()
    assert not (alpha / "manifests" / "alpha.json").exists()
    assert git(alpha, "diff", "--cached", "--name-status").split() == [
        "D",
        "manifests/alpha.json",
        "D",
        "refs/alpha.npy",
    ]


def test_rm_several_is_all_or_nothing(alpha: Path) -> None:
    before = snapshot(alpha)
    proc = run_cli("rm", "alpha", "ghost")
    assert proc.returncode == 1
    assert snapshot(alpha) == before


def test_usage_errors_exit_2(voice_repo: Path) -> None:
    proc = run_cli("add")
    assert proc.returncode == 2
    assert "Missing argument" in proc.stderr
    assert run_cli("frobnicate").returncode == 2


def test_dash_c(alpha: Path, tmp_path: Path) -> None:
    proc = run_cli("-C", alpha, "ls", "--json", cwd=tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)[0]["name"] == "alpha"


def test_bug_exits_3_with_traceback_in_log(
    alpha: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import refmgr.commands.ls

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("synthetic")

    monkeypatch.setattr(refmgr.commands.ls, "list_references", boom)
    monkeypatch.setenv("REFMGR_HOME", str(tmp_path / "state"))
    assert main(["ls"]) == 3
    err = capsys.readouterr().err
    assert one_line_error(err, "internal error (ZeroDivisionError: synthetic)", "refmgr.log")
    log = (tmp_path / "state" / "refmgr.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError" in log
    assert f"python {platform.python_version()}" in log
    monkeypatch.setattr(refmgr.commands.ls, "list_references", lambda *a, **k: 1 / 0)
    assert main(["ls"]) == 3
    capsys.readouterr()
    log = (tmp_path / "state" / "refmgr.log").read_text()
    assert log.count("Traceback") == 1 and "synthetic" not in log  # the last crash only
    assert main(["--debug", "ls"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_exits_130(
    alpha: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import refmgr.commands.ls

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(refmgr.commands.ls, "list_references", interrupted)
    assert main(["ls"]) == 130


@pytest.mark.parametrize("command", [["ls"], ["show", "alpha"]])
def test_no_torch_on_the_light_path(alpha: Path, command: list[str]) -> None:
    imported = top_level_imports(*command)
    assert "refmgr" in imported
    assert not imported & {"torch", "fish_speech", "torchaudio"}


def test_init_on_a_file_or_an_impossible_place(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    proc = run_cli("init", afile)
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "afile: is not a directory")
    proc = run_cli("init", "/proc/refmgr-cannot-be-here")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "/proc/refmgr-cannot-be-here: cannot create the directory")
