"""What a user hits on the way (issue: the user's real path, part 4): each message says
what is wrong, usage errors exit 2, --json always prints one document, help is whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from refmgr.cli import main
from tests.support.cli import run_cli, run_on_terminal
from tests.support.helpers import RecordingFactory, git


@pytest.fixture
def alpha(voice_repo: Path, recording: RecordingFactory) -> Path:
    rec = recording("alpha.wav", seconds=4.0)
    assert main(["add", str(rec), "--text", "Alpha speaks."]) == 0
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "alpha")
    return voice_repo


def test_add_says_what_is_wrong_with_the_recording(
    voice_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (voice_repo / "takes").mkdir()
    assert main(["add", "missing.wav"]) == 1
    assert capsys.readouterr().err == "missing.wav: no such file\n"
    assert main(["add", "takes"]) == 1
    assert capsys.readouterr().err == "takes: is a directory, not a recording\n"


@pytest.mark.parametrize(
    "args",
    [
        ["no-raw-audio"],
        ["add", "a.wav", "b.wav", "--name", "x"],
        ["say", "alpha", "Hi.", "--temperature", "0"],
        ["say", "alpha", "Hi.", "--top-p", "1.5"],
        ["render", "ep.txt", "--seed", "-1"],
    ],
)
def test_bad_usage_exits_2(args: list[str], voice_repo: Path) -> None:
    assert main(args) == 2


def test_every_problem_of_a_script_in_line_order(
    alpha: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (alpha / "ep.txt").write_text(
        "alpha: fine\n[1x] alpha: bad id\nalpha hello\nalpha {temperature=0}: x\n"
    )
    assert main(["render", "status", "ep.txt"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "ep.txt:2:2: invalid line id '1x': use up to 64 letters, digits, '_', '.' and '-', "
        "starting with a letter",
        "ep.txt:3:1: expected 'NAME: text' (a reference name, a colon, then the text)",
        "ep.txt:4:8: temperature must be above 0, not 0.0",
    ]
    (alpha / "ep.txt").write_text("alpha: fine\ngamma: who\nalpha: more\ndelta: who\n")
    assert main(["render", "ep.txt"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "ep.txt:2:1: unknown character 'gamma' (known: alpha)",
        "ep.txt:4:1: unknown character 'delta' (known: alpha)",
    ]
    assert not (alpha / "renders").exists()


def test_dry_run_and_status_agree_on_the_exit_status(
    alpha: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (alpha / "ep.txt").write_text("alpha: Hello.\n")
    assert main(["render", "status", "ep.txt"]) == main(["render", "ep.txt", "--dry-run"]) == 0
    tokens = alpha / "refs" / "alpha.npy"
    data = bytearray(tokens.read_bytes())
    data[-1] ^= 1  # the sha256 no longer matches: alpha is refused
    tokens.write_bytes(bytes(data))
    assert main(["render", "status", "ep.txt"]) == main(["render", "ep.txt", "--dry-run"]) == 1
    assert not (alpha / "renders").exists()


def test_textconv_with_a_codec_the_file_does_not_fit(alpha: Path) -> None:
    proc = run_cli("textconv", "--codec", "fish-s1", "refs/alpha.npy")
    assert proc.returncode == 0
    assert "given as fish-s1, but fish-s1 makes 10 codebooks of int16" in proc.stdout
    assert "duration" not in proc.stdout  # fish-s1's frame rate would give a wrong one
    assert "duration  4.00 s" in run_cli("textconv", "refs/alpha.npy").stdout


def test_engine_that_cannot_clone_any_voice_is_refused_before_its_checkpoint(
    alpha: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (alpha / "ep.txt").write_text("alpha: Hello.\n")
    assert main(["render", "ep.txt", "--engine", "fish-s1"]) == 1
    err = capsys.readouterr().err
    assert "cannot clone from codec2-3200 tokens" in err
    assert "checkpoint" not in err.lower()


def test_names_in_any_case(alpha: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["say", "Alpha", "Hello.", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["name"] == "alpha" and said["output"] == "listen/alpha-say.wav"
    assert main(["show", "ALPHA", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["name"] == "alpha"


def test_decode_and_say_write_where_git_does_not_look(alpha: Path) -> None:
    proc = run_cli("decode", "alpha", "--json", cwd=alpha / "refs")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == "listen/alpha.wav"  # relative to the root
    assert run_cli("say", "alpha", "Hello.").returncode == 0
    assert sorted(p.name for p in (alpha / "listen").iterdir()) == ["alpha-say.wav", "alpha.wav"]
    assert git(alpha, "status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.parametrize(
    "args",
    [
        ["show", "nosuch", "--json"],
        ["rm", "nosuch", "--json"],
        ["render", "nosuch.txt", "--json"],
        ["render", "status", "nosuch.txt", "--json"],
        ["decode", "nosuch", "--json"],
        ["add", "missing.wav", "--json"],
        ["say", "alpha", "Hi.", "--temperature", "0", "--json"],
        ["pin", "nosuch", "--json"],
        ["model", "pin", "fish-s1", "nowhere", "--json"],
    ],
)
def test_json_errors_are_one_document_on_stdout(
    args: list[str], alpha: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(args)
    assert code in (1, 2)
    document = json.loads(capsys.readouterr().out)  # exactly one document
    assert document["exit_code"] == code and document["error"]
    assert "Traceback" not in document["error"]


def test_json_error_paths_are_relative_to_the_repository_root(
    alpha: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (alpha / "manifests" / "alpha.json").write_text("{")
    os.chdir(alpha / "refs")
    assert main(["show", "alpha", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["path"] == "manifests/alpha.json"


def test_help_shows_whole_summaries_and_render_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    commands = out[out.index("Commands:") :]
    assert "..." not in commands
    assert "Decode the stored tokens of NAME back to audio, to hear what" in out
    assert main(["render", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--engine", "--shard", "--dry-run", "--mix", "--only"):
        assert option in out


def test_progress_on_a_terminal_only(alpha: Path) -> None:
    code, drawn, _ = run_on_terminal(alpha, "say", "alpha", "Hello there.")
    assert code == 0
    assert "loading the draft engine" in drawn and "speaking 12 characters as alpha" in drawn
    code, drawn, _ = run_on_terminal(alpha, "decode", "alpha")
    assert code == 0 and "decoding alpha with codec2-3200" in drawn
    code, drawn, out = run_on_terminal(alpha, "say", "alpha", "Hello there.", "--json")
    assert code == 0 and "loading" not in drawn and json.loads(out)["name"] == "alpha"
    piped = run_cli("say", "alpha", "Hello there.")
    assert "loading" not in piped.stderr
