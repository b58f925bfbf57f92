"""examples/ci/render.yml stays in step with the command line it documents, and its merge
job works on a machine where no engine can load."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import soundfile
import yaml

from refmgr.cli.render import render
from tests.helpers import one_line_error, run_cli
from tests.render.support import check_lock

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "render.yml"

# Runs refmgr where torch, Fish Speech and eSpeak NG cannot be imported: no engine loads.
NO_ENGINES = """
import sys

class NoEngines:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("torch", "fish_speech", "fish_speech_lib", "espeakng_loader"):
            raise ImportError(f"{name} is not installed on this runner")
        return None

sys.meta_path.insert(0, NoEngines())
from refmgr.cli import main
sys.exit(main())
"""


def _workflow() -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return workflow


def _commands(job: str, env: dict[str, str], shard: int = 2) -> list[list[str]]:
    """The job's refmgr command lines, as the runner's shell would split them."""
    lines = [
        step["run"]
        for step in _workflow()["jobs"][job]["steps"]
        if step.get("run", "").startswith("refmgr ")
    ]
    commands = []
    for line in lines:
        line = line.replace("${{ matrix.shard }}", str(shard))
        line = line.replace("${{ strategy.job-total }}", "3")
        commands.append(
            [re.sub(r"\$(\w+)", lambda m: env[m.group(1)], a) for a in shlex.split(line)]
        )
    return commands


def test_every_refmgr_command_in_the_workflow_parses() -> None:
    env = {k: str(v) for k, v in _workflow()["env"].items()}
    render_job, merge_job = _commands("render", env), _commands("merge", env)
    assert [c[:3] for c in render_job] == [["refmgr", "render", "scripts/episode.txt"]]
    assert "--shard" in render_job[0] and render_job[0][-1] == "2/3"
    assert [c[:3] for c in merge_job] == [
        ["refmgr", "render", "merge"],
        ["refmgr", "render", "mix"],
    ]
    for args in render_job + merge_job:
        # Parse the options as `refmgr render` would (types, choices, --shard), no run.
        name, rest = (args[2], args[3:]) if args[2] in render.commands else ("run", args[2:])
        render.commands[name].make_context(f"render {name}", rest)


def test_each_job_installs_what_it_runs() -> None:
    workflow = _workflow()
    assert workflow["env"]["ENGINE"] == "fish-s1"

    def installs(job: str) -> list[str]:
        return [
            line.strip()
            for step in workflow["jobs"][job]["steps"]
            for line in step.get("run", "").splitlines()
            if line.strip().startswith("pip install")
        ]

    # The GPU jobs render with fish-s1: refmgr with its `fish` extra, torch first.
    render_installs = installs("render")
    assert render_installs[-1] == 'pip install "refmgr[fish] @ $REFMGR_FROM"'
    assert render_installs[0].startswith("pip install torch==")
    # The merge job opens no engine: plain refmgr.
    assert installs("merge") == ['pip install "refmgr @ $REFMGR_FROM"']
    assert workflow["env"]["REFMGR_FROM"].startswith("git+https://")


def test_cache_is_keyed_by_the_lock_and_shards_form_a_matrix() -> None:
    text = WORKFLOW.read_text()
    assert text.count("key: renders-${{ hashFiles('renders/*.lock.json') }}") == 2
    workflow = yaml.safe_load(text)
    assert workflow["jobs"]["render"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert workflow["jobs"]["merge"]["needs"] == "render"


def _without_engines(root: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    assert args[0] == "refmgr"
    return subprocess.run(
        [sys.executable, "-c", NO_ENGINES, *args[1:]],
        cwd=root,
        env={**os.environ, "CI": "true"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_merge_job_runs_where_no_engine_can_load(cast_repo: Path, tmp_path: Path) -> None:
    (cast_repo / "scripts").mkdir()
    shutil.copyfile(cast_repo / "ep.txt", cast_repo / "scripts" / "episode.txt")
    env = {k: str(v) for k, v in _workflow()["env"].items()}
    # Three matrix jobs, each in a checkout of its own, render their shard (draft on CPU
    # stands in for fish-s1 on a GPU) and upload renders/.
    artifacts = tmp_path / "artifacts"
    for k in (1, 2, 3):
        runner = tmp_path / f"runner-{k}"
        shutil.copytree(cast_repo, runner, symlinks=True)
        (command,) = _commands("render", env | {"ENGINE": "draft", "DEVICE": "cpu"}, shard=k)
        proc = run_cli(*command[1:], cwd=runner, env={"CI": "true"})
        assert proc.returncode == 0, proc.stderr
        shutil.copytree(runner / "renders", artifacts, dirs_exist_ok=True)  # merge-multiple
    # The merge job: a fresh checkout with the artifacts, on a runner without any engine.
    merge = tmp_path / "merge"
    shutil.copytree(cast_repo, merge, symlinks=True)
    shutil.copytree(artifacts, merge / "renders")
    refused = _without_engines(merge, ["refmgr", "render", "scripts/episode.txt"])
    assert refused.returncode == 1 and one_line_error(
        refused.stderr, "engine 'draft' needs eSpeak NG"
    ), refused.stderr  # what a merge job that opened an engine would meet
    for command in _commands("merge", env):
        proc = _without_engines(merge, command)
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stderr == ""
    check_lock(merge, "episode")
    assert not list((merge / "renders").glob("*.shard-*"))
    lines = sorted((merge / "renders" / "episode").glob("*.wav"))
    gaps = round(0.5 * 22050) * 4  # render.gap_s between the 5 lines
    total = sum(soundfile.info(p).frames for p in lines)
    assert len(lines) == 5 and soundfile.info(merge / "episode.wav").frames == total + gaps
