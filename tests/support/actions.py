"""A small, literal player of a GitHub Actions workflow, for examples/ci/render.yml.

It runs the workflow's own steps, read from the YAML, so that the tests and the workflow
cannot drift: each job in a fresh `git clone` of the origin, its `run:` blocks in bash as
the runner does (`bash --noprofile --norc -eo pipefail`), with `refmgr` on PATH. The
`uses:` actions it knows are modelled on what the real ones do:

- actions/cache/restore: the cache saved under exactly `key`, else, for each of
  `restore-keys` in turn, the newest cache whose key starts with it; its files are
  copied over the workspace.
- actions/cache/save: a cache is never replaced: a save under a key that exists is
  skipped (the action warns and succeeds).
- actions/upload-artifact v4: the files the paths match, relative to their least common
  ancestor; a second upload under one name in a run fails unless `overwrite: true`.
- actions/download-artifact v4: the artifacts whose name matches `pattern`, each into
  `path/NAME/`, or all into `path` with `merge-multiple: true`.

A step runs if every earlier step of its job succeeded, or if its `if:` is `always()`;
anything else in the YAML (another action, another expression) fails the test.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

INSTALL_COMMANDS = ("pip install", "sudo apt-get", "touch ")  # done here already


@dataclass
class StepLog:
    name: str
    ran: bool
    ok: bool = True
    stdout: str = ""
    stderr: str = ""
    note: str = ""  # what an action did: the cache key restored, a save skipped, ...


@dataclass
class Job:
    name: str
    workspace: Path
    steps: list[StepLog] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def step(self, prefix: str) -> StepLog:
        (found,) = [s for s in self.steps if s.name.startswith(prefix)]
        return found

    def failure(self) -> str:
        bad = [s for s in self.steps if not s.ok]
        return "\n".join(f"{s.name}: {s.note}\n{s.stdout}\n{s.stderr}" for s in bad)


@dataclass
class Run:
    number: int
    artifacts: Path  # one folder per artifact name, kept across re-runs of the run
    jobs: dict[str, Job] = field(default_factory=dict)  # "render-2", "merge": latest attempt
    attempt: int = 1


class Actions:
    def __init__(self, workflow: dict[str, Any], origin: Path, work: Path, env: dict[str, str]):
        self.workflow = workflow
        self.origin = origin
        self.work = work
        self.env = env  # overrides of the workflow's env (ENGINE=draft, ...)
        self.caches: list[tuple[str, Path]] = []  # (key, files), oldest first
        self.runs = 0
        bin_dir = work / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "refmgr").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m refmgr "$@"\n')
        (bin_dir / "refmgr-no-engines.py").write_text(NO_ENGINES)
        (bin_dir / "refmgr").chmod(0o755)
        self.bin = bin_dir

    # -- the workflow --------------------------------------------------------------------

    def run(self, job_env: dict[str, dict[str, str]] | None = None) -> Run:
        """One run of the workflow: the render matrix, then the merge job."""
        self.runs += 1
        run = Run(self.runs, self.work / f"run-{self.runs}" / "artifacts")
        run.artifacts.mkdir(parents=True)
        for shard in self.workflow["jobs"]["render"]["strategy"]["matrix"]["shard"]:
            self._job(run, "render", shard, (job_env or {}).get(f"render-{shard}", {}))
        self._merge(run)
        return run

    def rerun_failed(self, run: Run) -> None:
        """ "Re-run failed jobs": the failed matrix jobs, then the jobs that need them."""
        run.attempt += 1
        for name, job in list(run.jobs.items()):
            if name.startswith("render-") and not job.ok:
                self._job(run, "render", int(name.partition("-")[2]), {})
        self._merge(run)

    def _merge(self, run: Run) -> None:
        merge = self.workflow["jobs"]["merge"]
        assert merge["needs"] == "render"
        renders_ok = all(j.ok for n, j in run.jobs.items() if n.startswith("render-"))
        if renders_ok or merge.get("if") == "always()":
            self._job(run, "merge", None, {}, engines=False)

    def _job(
        self, run: Run, name: str, shard: int | None, env: dict[str, str], *, engines: bool = True
    ) -> None:
        spec = self.workflow["jobs"][name]
        label = name if shard is None else f"{name}-{shard}"
        workspace = self.work / f"run-{run.number}" / f"{label}-attempt-{run.attempt}"
        job = Job(label, workspace)
        run.jobs[label] = job
        context = {"matrix.shard": str(shard), "strategy.job-total": str(self._total())}
        job_env = {
            **os.environ,
            **{k: str(v) for k, v in self.workflow.get("env", {}).items()},
            **self.env,
            "CI": "true",
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            **env,
        }
        if not engines:  # a runner without torch, Fish Speech or eSpeak NG
            wrapper = self.work / f"bin-{label}"
            wrapper.mkdir(exist_ok=True)
            script = self.bin / "refmgr-no-engines.py"
            (wrapper / "refmgr").write_text(f'#!/bin/sh\nexec "{sys.executable}" {script} "$@"\n')
            (wrapper / "refmgr").chmod(0o755)
            job_env["PATH"] = f"{wrapper}{os.pathsep}{job_env['PATH']}"
        for step in spec["steps"]:
            title = self._expr(step.get("name") or step.get("uses") or step["run"], context, None)
            if not job.ok and step.get("if") != "always()":
                job.steps.append(StepLog(title, ran=False))
                continue
            log = StepLog(title, ran=True)
            job.steps.append(log)
            if "uses" in step:
                self._uses(step, run, workspace, context, log)
            else:
                self._shell(step, workspace, context, {**job_env, **step.get("env", {})}, log)

    def _total(self) -> int:
        return len(self.workflow["jobs"]["render"]["strategy"]["matrix"]["shard"])

    # -- steps ---------------------------------------------------------------------------

    def _shell(
        self,
        step: dict[str, Any],
        workspace: Path,
        context: dict[str, str],
        env: dict[str, str],
        log: StepLog,
    ) -> None:
        script = step["run"]
        if any(c in script for c in ("pip install", "apt-get")):
            lines = [line.split("#")[0].strip() for line in script.splitlines()]
            assert all(not line or line.startswith(INSTALL_COMMANDS) for line in lines), script
            log.note = "installed here already"
            return
        proc = subprocess.run(
            [
                "bash",
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                self._expr(script, context, None),
            ],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        log.ok, log.stdout, log.stderr = proc.returncode == 0, proc.stdout, proc.stderr
        log.note = f"exit {proc.returncode}"

    def _uses(
        self, step: dict[str, Any], run: Run, workspace: Path, context: dict[str, str], log: StepLog
    ) -> None:
        action, with_ = step["uses"], step.get("with", {})

        def arg(name: str, default: str | None = None) -> str:
            value = with_.get(name, default)
            assert value is not None, (action, name)
            return self._expr(str(value), context, workspace)

        if action == "actions/checkout@v4":
            subprocess.run(
                ["git", "clone", "-q", str(self.origin), str(workspace)],
                check=True,
                capture_output=True,
            )
        elif action == "actions/setup-python@v5":
            pass
        elif action == "actions/cache/restore@v4":
            log.note = self._restore(arg("key"), arg("restore-keys", "").split(), workspace)
        elif action == "actions/cache/save@v4":
            log.note = self._save(arg("key"), arg("path"), workspace)
        elif action == "actions/upload-artifact@v4":
            log.ok, log.note = self._upload(
                run, arg("name"), arg("path").split(), workspace, with_.get("overwrite") is True
            )
        elif action == "actions/download-artifact@v4":
            target = workspace / arg("path", ".")
            for folder in sorted(run.artifacts.iterdir()):
                if fnmatch.fnmatchcase(folder.name, arg("pattern", "*")):
                    merged = with_.get("merge-multiple") is True
                    shutil.copytree(
                        folder, target if merged else target / folder.name, dirs_exist_ok=True
                    )
        else:
            raise AssertionError(f"the player does not know {action}")

    def _restore(self, key: str, prefixes: list[str], workspace: Path) -> str:
        exact = [files for k, files in self.caches if k == key]
        found = exact[0] if exact else None
        for prefix in prefixes:
            if found is None:
                newest = [files for k, files in self.caches if k.startswith(prefix)]
                found = newest[-1] if newest else None
        if found is None:
            return "cache miss"
        shutil.copytree(found, workspace, dirs_exist_ok=True)
        return f"restored {found.name}"

    def _save(self, key: str, path: str, workspace: Path) -> str:
        if any(k == key for k, _ in self.caches):
            return f"skipped: a cache exists under {key}"
        files = self.work / "caches" / f"{len(self.caches) + 1}-{key}"
        shutil.copytree(workspace / path, files / path)
        self.caches.append((key, files))
        return f"saved {key}"

    def _upload(
        self, run: Run, name: str, patterns: list[str], workspace: Path, overwrite: bool
    ) -> tuple[bool, str]:
        target = run.artifacts / name
        if target.exists():
            if not overwrite:
                return False, f"an artifact named {name} exists in this run (409 Conflict)"
            shutil.rmtree(target)
        files: list[Path] = []
        roots: list[Path] = []
        for pattern in patterns:
            parts = Path(pattern).parts
            globbed = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), None)
            if globbed is not None:
                roots.append(Path(*parts[:globbed]))
            else:
                roots.append(
                    Path(pattern) if (workspace / pattern).is_dir() else Path(pattern).parent
                )
            for match in sorted(workspace.glob(pattern)):
                found = match.rglob("*") if match.is_dir() else [match]
                files += [f for f in found if f.is_file() and not f.name.startswith(".")]
        if not files:
            return True, "no files found (a warning)"
        root = workspace / Path(os.path.commonpath([str(r) for r in roots]) if roots else ".")
        for file in files:
            destination = target / file.relative_to(root)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, destination)
        return True, f"uploaded {len(files)} files"

    # -- expressions ---------------------------------------------------------------------

    def _expr(self, text: str, context: dict[str, str], workspace: Path | None) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression in context:
                return context[expression]
            files = re.fullmatch(r"hashFiles\('([^']+)'\)", expression)
            if files is not None and workspace is not None:
                return hash_files(workspace, files.group(1))
            raise AssertionError(f"the player does not know ${{{{ {expression} }}}}")

        return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", value, text)


def hash_files(workspace: Path, pattern: str) -> str:
    """hashFiles(): the sha256 of the sha256 of each matching file; '' if none matches."""
    matches = sorted(p for p in workspace.glob(pattern) if p.is_file())
    if not matches:
        return ""
    total = hashlib.sha256()
    for path in matches:
        total.update(hashlib.sha256(path.read_bytes()).digest())
    return total.hexdigest()
