"""The hook definitions exist once (refmgr/precommit.py) and every copy agrees with them."""

from __future__ import annotations

import re

import yaml

from refmgr.commands.hooks import HOOK_NAMES, hook_text
from refmgr.config import Config
from refmgr.precommit import CONFIG_NAME, HOOKS, files_pattern, local_config
from tests.support.gitenv import PROJECT


def published() -> list[dict[str, object]]:
    hooks: list[dict[str, object]] = yaml.safe_load(
        (PROJECT / ".pre-commit-hooks.yaml").read_text()
    )
    return hooks


def test_pre_commit_hooks_yaml_matches_the_definitions() -> None:
    assert [h["id"] for h in published()] == [h.id for h in HOOKS]
    for entry, hook in zip(published(), HOOKS, strict=True):
        assert entry["name"] == hook.name
        assert entry["description"] == hook.description
        assert entry["entry"] == hook.entry
        assert entry["language"] == "python"
        assert entry.get("files") == (files_pattern(Config()) if hook.scoped else None)
        assert entry.get("require_serial", False) == hook.require_serial
        assert entry.get("always_run", False) == hook.always_run
        assert (entry.get("types_or") == ["file", "symlink"]) == hook.symlinks


def test_readme_lists_the_published_hooks() -> None:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("### Hooks for the pre-commit framework", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (.+) \|$", section, flags=re.MULTILINE)
    assert rows == [(str(h["id"]), str(h["description"])) for h in published()]


def test_this_repository_dogfoods_what_init_writes() -> None:
    assert (PROJECT / CONFIG_NAME).read_text() == local_config(Config())
    config = yaml.safe_load(local_config(Config()))
    (repo,) = config["repos"]
    assert [h["id"] for h in repo["hooks"]] == [h.id for h in HOOKS]
    assert [h["entry"] for h in repo["hooks"]] == [h.entry for h in HOOKS]


def test_the_plain_hook_in_hooks_is_the_one_refmgr_installs() -> None:
    for name in HOOK_NAMES:
        assert (PROJECT / "hooks" / name).read_text() == hook_text(name)
        assert (PROJECT / "hooks" / name).stat().st_mode & 0o111
