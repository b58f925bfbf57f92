"""The render commands as a user runs them: output, JSON, progress bar, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import soundfile

from tests.support.cli import run_cli, run_on_terminal
from tests.support.helpers import one_line_error, snapshot
from tests.support.render import check_lock


def test_render_then_status_then_dry_run(cast_repo: Path) -> None:
    proc = run_cli("render", "ep.txt")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        proc.stdout.splitlines()[0],
        "outputs: renders/ep/",
        "lock:    renders/ep.lock.json",
    ]
    assert proc.stdout.startswith("ep: rendered 5, reused 0, kept 0, failed 0 of 5 lines in ")
    assert "engine draft (draft: scratch voices, not clones)" in proc.stdout
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("{seed=7}", "{seed=9}"))
    before = snapshot(cast_repo)
    status = run_cli("render", "status", "ep.txt")
    assert status.returncode == 0
    assert "render  0003  alpha      changed: params.seed 7 -> 9" in status.stdout
    assert "ep.txt: 4 keep, 1 render; engine draft" in status.stdout
    dry = run_cli("render", "ep.txt", "--dry-run", "--json")
    plan = json.loads(dry.stdout)
    assert plan["counts"] == {"keep": 4, "render": 1, "reuse": 0, "skip": 0, "failed": 0}
    assert snapshot(cast_repo) == before  # status and --dry-run write nothing


def test_json_summary(cast_repo: Path) -> None:
    proc = run_cli("render", "ep.txt", "--json", "--only", "ask")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["rendered"] == ["ask"]
    assert summary["lock"] == "renders/ep.lock.json" and summary["failures"] == []
    assert [line["action"] for line in summary["lines"]] == [
        "skip",
        "render",
        "skip",
        "skip",
        "skip",
    ]
    assert proc.stderr == ""


def test_progress_bar_with_eta_only_on_a_terminal(cast_repo: Path) -> None:
    # Long enough (2-3 s; 1.2 s for 30 lines on an idle machine was too close) for click to
    # have a time estimate: it waits 1 s for one.
    lines = [f"alpha: Line {i} of a scene long enough to show the time left." for i in range(60)]
    (cast_repo / "long.txt").write_text("\n".join(lines))
    code, drawn, _ = run_on_terminal(cast_repo, "render", "long.txt")
    assert code == 0
    assert "rendering" in drawn and "60/60" in drawn
    assert "0001-alpha" in drawn  # the line being rendered
    assert re.search(r"\d+/60  00:00:\d\d", drawn), drawn  # position, then the ETA
    code, drawn, _ = run_on_terminal(cast_repo, "render", "ep.txt", "--json", "--force")
    assert code == 0 and drawn == ""
    proc = run_cli("render", "ep.txt", "--force")  # stderr is a pipe
    assert proc.returncode == 0 and proc.stderr == ""


def test_shards_and_merge_from_the_command_line(cast_repo: Path) -> None:
    for k in ("1/2", "2/2"):
        proc = run_cli("render", "ep.txt", "--shard", k)
        assert proc.returncode == 0, proc.stderr
        assert f", shard {k} in " in proc.stdout
    proc = run_cli("render", "merge", "ep.txt")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "merged 2 shard locks -> renders/ep.lock.json (5 lines rendered, 0 missing)"
    )
    check_lock(cast_repo)


def test_mix(cast_repo: Path) -> None:
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("beta: Then", "beta {gap=2}: Then"))
    proc = run_cli("render", "ep.txt", "--mix", "../scene.wav", "--gap", "0.25")
    assert proc.returncode == 0, proc.stderr
    assert "mix:     ../scene.wav (5 lines" in proc.stdout
    lines = sorted((cast_repo / "renders" / "ep").glob("*.wav"))
    total = sum(soundfile.info(p).frames for p in lines)
    mix = soundfile.info(cast_repo.parent / "scene.wav")
    # 0.25 s after lines 1-3, 2 s after line 4 (its own gap), nothing after the last.
    assert mix.frames == total + round(0.25 * 22050) * 3 + 2 * 22050


def test_mix_needs_every_line(cast_repo: Path) -> None:
    tokens = cast_repo / "refs" / "beta.npy"
    data = tokens.read_bytes()
    tokens.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # fails its checksum
    proc = run_cli("render", "ep.txt", "--mix", "../scene.wav")
    assert proc.returncode == 1
    assert "../scene.wav: cannot mix: 2 of 5 lines have no output (first: ask)" in proc.stderr
    assert not (cast_repo.parent / "scene.wav").exists()
    status = run_cli("render", "status", "ep.txt")
    assert status.returncode == 1
    assert (
        status.stderr.startswith("refs/beta.npy: sha256")
        and "not rendered: ask, 0004" in status.stderr
    )


def test_help(cast_repo: Path) -> None:
    proc = run_cli("render", "--help")
    assert proc.returncode == 0 and "refmgr render SCRIPT" in proc.stdout
    for sub in ("merge", "status", "run"):
        assert sub in proc.stdout
    proc = run_cli("render", "run", "--help")
    assert "--require-committed / --no-require-committed" in proc.stdout


def test_git_sees_the_lock_but_not_the_audio(cast_repo: Path) -> None:
    from tests.support.helpers import git

    assert run_cli("render", "ep.txt", "--shard", "1/2").returncode == 0
    assert git(cast_repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert run_cli("render", "ep.txt").returncode == 0
    status = git(cast_repo, "status", "--porcelain", "--untracked-files=all")
    assert status == "?? renders/ep.lock.json\n"


def test_device_and_precision_options_are_one_definition_everywhere() -> None:
    from refmgr.cli import cli
    from refmgr.config import DEVICES, PRECISIONS

    ctx = click.Context(cli)
    render_group = cli.get_command(ctx, "render")
    assert isinstance(render_group, click.Group)
    commands = {name: cli.get_command(ctx, name) for name in ("add", "decode", "say")} | {
        f"render {name}": render_group.commands[name] for name in ("run", "status")
    }
    seen: dict[str, set[tuple[object, ...]]] = {"--device": set(), "--precision": set()}
    for name, command in commands.items():
        assert command is not None
        options = {o: p for p in command.params for o in p.opts}
        assert "--device" in options, name
        if name not in ("add", "decode"):  # codecs always run in fp32
            assert "--precision" in options, name
        for flag, choices in (("--device", DEVICES), ("--precision", PRECISIONS)):
            if flag in options:
                param = options[flag]
                assert isinstance(param.type, click.Choice), (name, flag)
                assert tuple(param.type.choices) == choices, (name, flag)
                assert isinstance(param, click.Option)
                seen[flag].add((param.help,))
    # The same help text everywhere: one shared definition.
    assert all(len(helps) == 1 for helps in seen.values()), seen


def test_one_json_option_for_every_command() -> None:
    import importlib

    from refmgr.cli import COMMANDS, options

    for target in sorted(set(COMMANDS.values())):
        module = importlib.import_module(target.partition(":")[0])
        assert getattr(module, "json_option", options.json_option) is options.json_option, target


def test_render_device_and_precision(cast_repo: Path) -> None:
    assert "cuda:1" not in run_cli("render", "run", "--help").stdout
    proc = run_cli("render", "ep.txt", "--device", "cuda:1")
    assert proc.returncode == 2 and "'cuda:1' is not one of" in proc.stderr
    proc = run_cli("render", "status", "ep.txt", "--precision", "bf16")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "engine 'draft' has no model whose precision could be set")
    # auto is the draft engine's CPU, in render and status alike.
    assert run_cli("render", "ep.txt", "--device", "auto").returncode == 0
    proc = run_cli("render", "status", "ep.txt", "--device", "auto", "--precision", "auto")
    assert proc.returncode == 0 and "5 keep" in proc.stdout


def test_removed_outputs_are_counted_in_good_english(cast_repo: Path) -> None:
    assert run_cli("render", "ep.txt").returncode == 0
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("[end] alpha: Good night.\n", ""))
    proc = run_cli("render", "ep.txt")
    assert proc.returncode == 0, proc.stderr
    assert "removed 1 output no line makes any more" in proc.stdout.splitlines()
    script.write_text(script.read_text().replace("[ask] beta", "[asked] beta"))
    script.write_text(script.read_text().replace("beta: Then", "[then] beta: Then"))
    proc = run_cli("render", "ep.txt")
    assert "removed 2 outputs no line makes any more" in proc.stdout.splitlines()


def test_render_mix_joins_the_locked_outputs_as_render_mix_does(cast_repo: Path) -> None:
    script = cast_repo / "ep.txt"
    script.write_text(script.read_text().replace("beta: Then", "beta {gap=2}: Then"))
    for k in ("1/2", "2/2"):
        assert run_cli("render", "ep.txt", "--shard", k).returncode == 0
    assert run_cli("render", "merge", "ep.txt").returncode == 0
    proc = run_cli("render", "mix", "ep.txt", "-o", "../from-lock.wav", "--gap", "0.25")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mix:     ../from-lock.wav (5 lines, ")
    proc = run_cli("render", "ep.txt", "--mix", "../from-render.wav", "--gap", "0.25")
    assert proc.returncode == 0 and "kept 5" in proc.stdout
    mixed = (cast_repo.parent / "from-lock.wav").read_bytes()
    assert mixed == (cast_repo.parent / "from-render.wav").read_bytes()
    summary = json.loads(run_cli("render", "mix", "ep.txt", "-o", "../j.wav", "--json").stdout)
    assert summary["lines"] == 5 and summary["sample_rate"] == 22050


def test_render_mix_refuses_what_the_lock_does_not_vouch_for(cast_repo: Path) -> None:
    def mix_fails(*needles: str) -> None:
        proc = run_cli("render", "mix", "ep.txt", "-o", "../scene.wav")
        assert proc.returncode == 1
        assert one_line_error(proc.stderr, *needles), proc.stderr
        assert not (cast_repo.parent / "scene.wav").exists()

    mix_fails("ep.txt: no lock (renders/ep.lock.json): render the script, or merge its shards")
    assert run_cli("render", "ep.txt").returncode == 0
    script = cast_repo / "ep.txt"
    original = script.read_text()
    for edit in (
        ("north", "south"),
        ("{seed=7}", "{seed=8}"),
        ("beta: Then", "beta {top_p=0.5}: Then"),
    ):
        script.write_text(original.replace(*edit))
        mix_fails("ep.txt: line", "changed since the lock was written; render the script first")
    script.write_text(original + "alpha: One more.\n")
    mix_fails("ep.txt: the script has 6 lines, its lock 5")
    script.write_text(original)
    output = cast_repo / "renders" / "ep" / "ask-beta.wav"
    data = output.read_bytes()
    output.write_bytes(data[:-2] + b"\x01\x00")
    mix_fails("renders/ep/ask-beta.wav: does not match the sha256 its lock records")
    output.unlink()
    mix_fails("renders/ep/ask-beta.wav: listed by the lock but missing")
    output.write_bytes(data)
    proc = run_cli("render", "mix", "ep.txt", "-o", "../no/scene.wav")
    assert proc.returncode == 1 and one_line_error(proc.stderr, "../no: directory does not exist")
    # A line without an output: refused characters leave it in the lock's 'missing'.
    tokens = cast_repo / "refs" / "beta.npy"
    tokens.write_bytes(tokens.read_bytes()[:-1] + b"\xff")
    assert run_cli("render", "ep.txt").returncode == 1
    mix_fails("../scene.wav: cannot mix: 2 of 5 lines have no output (first: ask)")
