"""examples/ci/render.yml stays in step with the command line it documents. Its jobs are
played for real, run after run, in test_ci_runs.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from refmgr.cli.render import render

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "ci" / "render.yml"


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
    assert [c[:3] for c in render_job] == [
        ["refmgr", "render", "scripts/episode.txt"],
        ["refmgr", "render", "export"],
    ]
    assert "--shard" in render_job[0] and render_job[0][-1] == "2/3"
    assert render_job[1][3:] == ["scripts/episode.txt", "--shard", "2/3", "shard-bundle"]
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

    # The GPU jobs render with fish-s1: torch first, refmgr with its fish extra, then the
    # --no-deps line (tests/integration/test_install.py: the README's lines, checked by pip's resolver).
    render_installs = installs("render")
    assert render_installs[0].startswith("pip install torch==")
    assert render_installs[1] == 'pip install "refmgr[fish-1-5] @ $REFMGR_FROM"'
    assert render_installs[2].startswith("pip install --no-deps fish-speech==0.1.0 ")
    # The merge job opens no engine: plain refmgr.
    assert installs("merge") == ['pip install "refmgr @ $REFMGR_FROM"']
    assert workflow["env"]["REFMGR_FROM"].startswith("git+https://")


def test_cache_is_keyed_by_the_locks_and_shards_form_a_matrix() -> None:
    workflow = _workflow()
    steps = workflow["jobs"]["render"]["steps"] + workflow["jobs"]["merge"]["steps"]
    caches = [s for s in steps if s.get("uses", "").startswith("actions/cache/")]
    saves = [s["with"]["key"] for s in caches if s["uses"] == "actions/cache/save@v4"]
    assert saves == ["renders-${{ hashFiles('renders/*.lock.json') }}"]
    # Restores never name a saved key: they take the newest cache (restore-keys).
    restores = [s["with"] for s in caches if s["uses"] == "actions/cache/restore@v4"]
    assert len(restores) == 2
    assert all(r["key"] == "renders-newest" and r["restore-keys"] == "renders-" for r in restores)
    assert workflow["jobs"]["render"]["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert workflow["jobs"]["merge"]["needs"] == "render"
    # upload-artifact v4 refuses a second upload under one name: a re-run must overwrite.
    uploads = [s for s in steps if s.get("uses") == "actions/upload-artifact@v4"]
    assert len(uploads) == 2 and all(u["with"]["overwrite"] is True for u in uploads)


def test_refmgr_is_pinned_by_a_commit() -> None:
    # No release of refmgr is tagged yet: the workflow must not name a tag that does not
    # exist (README: "In CI" says how to pin).
    source = _workflow()["env"]["REFMGR_FROM"]
    assert source.startswith("git+https://") and source.endswith("@FULL_COMMIT_SHA")
