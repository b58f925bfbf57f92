"""refmgr init: create (or complete) a voice repository. Safe to run again."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refmgr import diffdriver, gitrepo
from refmgr.config import CONFIG_FILE, CodecSettings, Config, dump_config, load_config
from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.pins import installed_pin
from refmgr.precommit import CONFIG_NAME, local_config
from refmgr.project import LISTEN_DIR, STATE_DIR, ensure_state_dir
from refmgr.render.script import SHARD_MARK


@dataclass
class InitResult:
    root: Path
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    git_initialized: bool = False
    # Set when an enclosing git repository ignores the directory: 'the git repository at
    # TOP ignores it (.gitignore:1: /build/)'.
    ignored_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "created": self.created,
            "updated": self.updated,
            "git_initialized": self.git_initialized,
            "ignored_by": self.ignored_by,
        }


def init_repository(directory: Path, *, git: bool = True) -> InitResult:
    if directory.exists() and not directory.is_dir():
        raise RefmgrError("is not a directory", directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RefmgrError(f"cannot create the directory: {e.strerror}", directory) from None
    root = directory.resolve()
    result = InitResult(root=root)
    # Inside another checkout's ignored folder (its build/), nothing here could be committed
    # there: the voice repository gets a git repository of its own, and the enclosing one's
    # config and hooks stay untouched. (git never counts a folder that holds tracked files
    # as ignored: that one is the checkout's.)
    rule = gitrepo.ignored(root, ["."]).get(".")
    if rule is not None:
        result.ignored_by = f"the git repository at {gitrepo.toplevel(root)} ignores it ({rule})"
    if git and (rule is not None or not gitrepo.is_git_repo(root)):
        gitrepo.init(root)
        result.git_initialized = True
    config_path = root / CONFIG_FILE
    if config_path.exists():
        config = load_config(config_path)  # an invalid config is reported, never overwritten
    else:
        config = _new_config()
        atomic_write(config_path, dump_config(config).encode())
        result.created.append(CONFIG_FILE)
    for rel in (config.paths.refs, config.paths.manifests):
        if not (root / rel).is_dir():
            (root / rel).mkdir(parents=True)
            result.created.append(rel + "/")
    if not (root / STATE_DIR / ".gitignore").exists():
        ensure_state_dir(root)
        result.created.append(STATE_DIR + "/")
    _ensure_lines(root, ".gitattributes", gitattributes_lines(config), result)
    _ensure_lines(root, ".gitignore", gitignore_lines(config), result)
    in_git = gitrepo.is_git_repo(root) and (result.git_initialized or rule is None)
    if not (root / CONFIG_NAME).exists():
        prefix = gitrepo.show_prefix(root) if in_git else ""
        atomic_write(root / CONFIG_NAME, local_config(config, prefix).encode())
        result.created.append(CONFIG_NAME)
    if in_git:
        _configure_textconv(root, result)
    return result


def _new_config() -> Config:
    # Pin the default codec's library now if it is installed; else the first add pins it.
    default = CodecSettings()
    pin = installed_pin(default.default)
    return Config(codecs=CodecSettings(pins={default.default: pin} if pin else {}))


def _configure_textconv(root: Path, result: InitResult) -> None:
    # Repository-local git config (never committed): this Python first, so git diff works
    # without refmgr on PATH; the driver outlives it (see refmgr.diffdriver).
    command = diffdriver.command(sys.executable)
    if gitrepo.get_config(root, diffdriver.CONFIG_KEY) != command:
        gitrepo.set_config(root, diffdriver.CONFIG_KEY, command)
        result.updated.append(f"git config {diffdriver.CONFIG_KEY}")


def gitattributes_lines(config: Config) -> list[str]:
    # `binary` keeps git from merging or normalizing token files; the later `diff=refmgr`
    # turns their diffs back on through refmgr textconv.
    return [f"/{config.paths.refs}/*.npy binary", f"/{config.paths.refs}/*.npy diff=refmgr"]


def gitignore_lines(config: Config) -> list[str]:
    # refmgr's local state (also self-ignoring), and temporaries of a write killed mid-way,
    # which the next refmgr command deletes.
    lines = [
        f"/{STATE_DIR}/",
        f"/{config.paths.refs}/.*.tmp",
        f"/{config.paths.manifests}/.*.tmp",
        f"/.{CONFIG_FILE}.*.tmp",
    ]
    # Rendered audio stays out of git (CI caches it); the locks beside it are meant to be
    # committed, except the per-shard ones that `refmgr render merge` joins and removes.
    renders = config.paths.renders
    return [
        *lines,
        f"/{renders}/*/",
        f"/{renders}/*{SHARD_MARK}*-of-*.lock.json",
        f"/{renders}/.*.tmp",  # a lock's temporary (the next render of its script removes it)
        f"/{LISTEN_DIR}/",  # decode's and say's outputs when no -o is given
        "/.*.wav.*.tmp",  # a mix's, when written beside refmgr.toml (the next mix removes it)
    ]


def _ensure_lines(root: Path, name: str, lines: list[str], result: InitResult) -> None:
    path = root / name
    existing = path.read_text("utf-8").splitlines() if path.exists() else []
    missing = [line for line in lines if line not in existing]
    if not missing:
        return
    text = "\n".join([*existing, *missing]) + "\n"
    atomic_write(path, text.encode())
    (result.updated if existing else result.created).append(name)
