"""The real pre-commit framework (from PyPI) runs refmgr's hooks on real git commits."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.bad_cases import BAD_CASES, BAD_IDS, BadCase, assert_commit_refused
from tests.support.gitenv import BIN, PROJECT, commit, commit_a_new_reference, head, run
from tests.support.helpers import RecordingFactory, make_recording

pytest_plugins = ["tests.support.voice_fixtures"]


def test_init_writes_a_config_that_uses_the_hooks(framework_repo: Path) -> None:
    text = (framework_repo / ".pre-commit-config.yaml").read_text()
    assert "id: refmgr-validate" in text and "id: refmgr-no-raw-audio" in text


def test_a_good_reference_commits(
    framework_repo: Path, env: dict[str, str], recording: RecordingFactory
) -> None:
    proc = commit_a_new_reference(framework_repo, env, recording("bravo.wav", seconds=4.0))
    assert "refmgr validate" in proc.stderr + proc.stdout and "Passed" in proc.stderr + proc.stdout


@pytest.mark.parametrize("case", BAD_CASES, ids=BAD_IDS)
def test_a_bad_reference_is_refused(
    case: BadCase, framework_repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    assert_commit_refused(case, framework_repo, env, tmp_path)


@pytest.mark.slow
def test_the_published_hooks_install_from_a_repo(
    repo: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """.pre-commit-hooks.yaml as a user gets it: pre-commit clones refmgr at a rev and
    installs it (with its dependencies, from the package index) into its own environment."""
    source = tmp_path / "refmgr-src"
    files = run(["git", "ls-files", "-co", "--exclude-standard"], PROJECT).stdout.splitlines()
    for rel in files:
        if (PROJECT / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / rel, source / rel)
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "refmgr"]):
        assert run(args, source, env).returncode == 0
    rev = head(source, env)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source.as_uri()}\n    rev: {rev}\n    hooks:\n"
        "      - id: refmgr-validate\n      - id: refmgr-no-raw-audio\n"
    )
    assert run([str(BIN / "pre-commit"), "install"], repo, env).returncode == 0
    assert commit(repo, env).returncode == 0
    (repo / "refs" / "ghost.npy").write_bytes((repo / "refs" / "alpha.npy").read_bytes())
    proc = commit(repo, env)
    assert proc.returncode != 0
    assert "refs/ghost.npy: token file has no manifest" in proc.stdout + proc.stderr


def test_a_voice_repository_in_a_subdirectory(tmp_path: Path, env: dict[str, str]) -> None:
    top = tmp_path / "game"
    top.mkdir()
    assert run(["git", "init", "-q"], top, env).returncode == 0
    voices = top / "assets" / "voices"
    assert run([sys.executable, "-m", "refmgr", "init", str(voices)], top, env).returncode == 0
    config = voices / ".pre-commit-config.yaml"
    assert "entry: 'refmgr validate --staged --root assets/voices --'" in config.read_text()
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, voices / rel)
    install = run(
        [str(BIN / "pre-commit"), "install", "-c", str(config.relative_to(top))], top, env
    )
    assert install.returncode == 0, install.stderr
    assert commit(top, env).returncode == 0
    (voices / "refs" / "alpha.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    (voices / "refs" / "alpha.npy").write_bytes(b"\x93NUMPY\x01\x00broken")
    proc = commit(top, env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "assets/voices/refs/alpha.npy: " in output
    assert "assets/voices/refs/alpha.wav: WAV audio" in output


def readme_config(marker: str) -> str:
    """The YAML block of the README that follows ``<!-- ... (marker) -->``."""
    readme = (PROJECT / "README.md").read_text()
    after = readme.split(f"commits through this config ({marker}) -->\n```yaml\n", 1)[1]
    return after.split("```", 1)[0]


def as_local_hooks(hooks: list[dict[str, object]]) -> list[dict[str, object]]:
    """The README's hooks as pre-commit runs them from refmgr's repository: each merged over
    its definition in .pre-commit-hooks.yaml, the way pre-commit merges a config's hook over
    the manifest's. Run with `language: system` (this environment's refmgr) to stay offline;
    test_the_published_hooks_install_from_a_repo covers the install."""
    manifest = {
        h["id"]: h for h in yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    }
    return [{**manifest[h["id"]], **h, "language": "system"} for h in hooks]


def test_the_readme_config_for_a_voice_repository_in_a_monorepo(
    tmp_path: Path, env: dict[str, str]
) -> None:
    top = tmp_path / "game"
    top.mkdir()
    assert run(["git", "init", "-q"], top, env).returncode == 0
    voices = top / "sub" / "voices"
    assert run([sys.executable, "-m", "refmgr", "init", str(voices)], top, env).returncode == 0
    for rel in ("refs/alpha.npy", "manifests/alpha.json"):
        shutil.copyfile(PROJECT / rel, voices / rel)
    (voices / "refmgr.toml").write_text(
        (voices / "refmgr.toml")
        .read_text()
        .replace("allow_audio = []", 'allow_audio = ["takes/*.wav"]')
    )
    hooks = as_local_hooks(yaml.safe_load(readme_config("monorepo"))["repos"][0]["hooks"])
    config = top / ".pre-commit-config.yaml"
    config.write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}))
    assert run([str(BIN / "pre-commit"), "install"], top, env).returncode == 0

    make_recording(top / "media" / "trailer.wav", seconds=1.0, sample_rate=8000)
    make_recording(voices / "takes" / "alpha.wav", seconds=1.0, sample_rate=8000)
    proc = commit(top, env)  # outside the voice repository, or allowed by its allow_audio
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refmgr validate" in proc.stdout + proc.stderr

    make_recording(voices / "refs" / "beta.wav", seconds=1.0, sample_rate=8000)
    (voices / "refs" / "alpha.npy").write_bytes(b"\x93NUMPY\x01\x00broken")
    proc = commit(top, env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "sub/voices/refs/alpha.npy: " in output
    assert "sub/voices/refs/beta.wav: WAV audio" in output
    assert run(["git", "reset", "-q", "--hard"], top, env).returncode == 0  # drops both

    # The opt-in: recordings stay out of the rest of the repository too.
    everywhere = as_local_hooks(yaml.safe_load(readme_config("monorepo, everywhere")))
    config.write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks + everywhere}]}))
    make_recording(top / "media" / "teaser.wav", seconds=1.0, sample_rate=8000)
    make_recording(voices / "takes" / "beta.wav", seconds=1.0, sample_rate=8000)
    proc = commit(top, env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "media/teaser.wav: WAV audio" in output
    assert "takes/beta.wav" not in output  # the voice repository's allow_audio still holds
