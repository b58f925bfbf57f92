"""The documented Fish Speech install is the one that is checked.

The README's "Fish Speech on a GPU" block is parsed here; `examples/ci/render.yml` must
install with the same lines, and pip's real resolver must accept them (a dry run against
the package index, with this checkout standing in for ``refmgr``). The resolver check
needs the network: ``make test`` turns it on with REFMGR_CHECK_RESOLVER=1.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
WORKFLOW = ROOT / "examples" / "ci" / "render.yml"
MARKER = "<!-- gpu-install: tests/integration/test_install.py checks these lines -->"
REFMGR = re.compile(r"^refmgr(\[[a-z0-9,-]+\])?(?: @ .*)?$")


def pip_lines(text: str) -> list[list[str]]:
    """The ``pip install`` commands of TEXT, as argument lists (comments dropped)."""
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == ["pip", "install"]:
            commands.append(words[2:])
    return commands


def readme_gpu_install() -> list[list[str]]:
    text = README.read_text()
    assert MARKER in text, f"README.md: the marker {MARKER!r} is missing"
    block = text.split(MARKER, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return pip_lines(block)


def local(args: list[str], source: str) -> list[str]:
    """ARGS with every ``refmgr[...]`` requirement taken from SOURCE instead."""
    out = []
    for arg in args:
        match = REFMGR.match(arg)
        out.append(f"{source}{match.group(1) or ''}" if match else arg)
    return out


def test_the_readme_documents_a_torch_pair_refmgr_and_the_no_deps_line() -> None:
    commands = readme_gpu_install()
    resolved = [c for c in commands if "--no-deps" not in c]
    words = [w for c in resolved for w in c]
    assert any(w.startswith("torch==") for w in words), commands  # never an unpinned torch
    assert any(w.startswith("torchaudio==") for w in words), commands
    assert any(REFMGR.match(w) for w in words), commands
    no_deps = [w for c in commands if "--no-deps" in c for w in c]
    assert "fish-speech==0.1.0" in no_deps, commands


def test_the_ci_example_installs_what_the_readme_documents() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["render"]["steps"]
    script = next(s["run"] for s in steps if str(s.get("name", "")).startswith("Install"))
    assert [local(c, "refmgr") for c in pip_lines(script)] == [
        local(c, "refmgr") for c in readme_gpu_install()
    ]


def dry_run(args: list[str], report: Path) -> dict[str, str]:
    # fast-deps reads each wheel's metadata with HTTP range requests: the index here serves
    # no PEP 658 metadata files, and without it pip downloads ~1.7 GB of CUDA wheels.
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--dry-run",
         "--ignore-installed", "--use-feature=fast-deps", "--quiet", "--report", str(report),
         *args],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    installs = json.loads(report.read_text())["install"]
    return {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("REFMGR_CHECK_RESOLVER") != "1",
    reason="needs the package index: REFMGR_CHECK_RESOLVER=1 (make test sets it)",
)
def test_the_readme_gpu_install_resolves_with_pips_resolver(tmp_path: Path) -> None:
    commands = [local(c, str(ROOT)) for c in readme_gpu_install()]
    # Run one after another, the resolved lines end where one pip call with all of them
    # ends: the torch pair installed first stays (pip only upgrades what does not fit).
    together = [w for c in commands if "--no-deps" not in c for w in c]
    versions = dry_run(together, tmp_path / "resolved.json")
    pins = {w.split("==")[0]: w.split("==")[1] for w in together if "==" in w}
    assert (versions["torch"], versions["torchaudio"]) == (pins["torch"], pins["torchaudio"])
    assert "refmgr" in versions and "numpy" in versions and "pycodec2" in versions
    for i, command in enumerate(c for c in commands if "--no-deps" in c):
        named = dry_run(command, tmp_path / f"no-deps-{i}.json")
        assert sorted(named) == sorted(canonical(w.split("==")[0]) for w in command if "==" in w)


def readme_extra_installs() -> list[list[str]]:
    """The README's other ``pip install 'refmgr[EXTRA]'`` commands (quality scorers,
    delivery, Ray, the browser test), in code blocks or inline in the prose."""
    found = re.findall(
        r"^(pip install '?refmgr\[.*)$|`(pip install '?refmgr\[[^`]+)`", README.read_text(), re.M
    )
    commands = [pip_lines(block or inline)[0] for block, inline in found]
    gpu = readme_gpu_install()
    return [c for c in commands if c not in gpu]


def test_the_readme_names_the_quality_delivery_ray_and_browser_extras() -> None:
    matches = [REFMGR.match(w) for c in readme_extra_installs() for w in c]
    extras = {m.group(1) for m in matches if m is not None}
    assert {"[qa]", "[deliver]", "[ray]", "[browser]"} <= extras, extras


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("REFMGR_CHECK_RESOLVER") != "1",
    reason="needs the package index: REFMGR_CHECK_RESOLVER=1 (make test sets it)",
)
def test_the_readme_extras_resolve_with_pips_resolver(tmp_path: Path) -> None:
    for i, command in enumerate(readme_extra_installs()):
        versions = dry_run(local(command, str(ROOT)), tmp_path / f"extra-{i}.json")
        assert "refmgr" in versions, command
        assert "torch" in versions or "refmgr[qa]" not in command, versions  # qa needs torch
        if "-c" in command and "torch" in versions:  # the constraints keep torch on its pin
            pins = (ROOT / command[command.index("-c") + 1]).read_text()
            pinned = re.search(r"^torch==(\S+)", pins, re.M)
            assert pinned and versions["torch"].split("+")[0] == pinned.group(1), versions["torch"]
