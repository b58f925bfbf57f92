"""examples/ci/render.yml stays in step with the command line it documents."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from refmgr.cli.render import render

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "render.yml"


def test_every_refmgr_command_in_the_workflow_parses() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    env = {k: str(v) for k, v in workflow["env"].items()} | {"DEVICE": "cpu", "ENGINE": "draft"}
    commands = [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("run", "").startswith("refmgr ")
    ]
    assert len(commands) == 3  # render --shard, render merge, render --mix
    assert any("--shard ${{ matrix.shard }}/${{ strategy.job-total }}" in c for c in commands)
    for command in commands:
        line = re.sub(r"\$\{\{ matrix.shard \}\}", "2", command)
        line = re.sub(r"\$\{\{ strategy.job-total \}\}", "3", line)
        args = [re.sub(r"\$(\w+)", lambda m: env[m.group(1)], a) for a in shlex.split(line)]
        # Parse the options as `refmgr render` would (types, choices, --shard), no run.
        assert args[:2] == ["refmgr", "render"], command
        name, rest = (args[2], args[3:]) if args[2] in render.commands else ("run", args[2:])
        render.commands[name].make_context(f"render {name}", rest)


def test_cache_is_keyed_by_the_lock_and_shards_form_a_matrix() -> None:
    text = WORKFLOW.read_text()
    assert text.count("key: renders-${{ hashFiles('renders/*.lock.json') }}") == 2
    workflow = yaml.safe_load(text)
    assert workflow["jobs"]["render"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert workflow["jobs"]["merge"]["needs"] == "render"
