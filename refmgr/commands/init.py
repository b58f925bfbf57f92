"""refmgr init: create (or complete) a voice repository. Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from refmgr import gitrepo
from refmgr.config import CONFIG_FILE, Config, dump_config, load_config
from refmgr.fsutil import atomic_write
from refmgr.project import STATE_DIR


@dataclass
class InitResult:
    root: Path
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    git_initialized: bool = False


def init_repository(directory: Path, *, git: bool = True) -> InitResult:
    directory.mkdir(parents=True, exist_ok=True)
    root = directory.resolve()
    result = InitResult(root=root)
    if git and not gitrepo.is_git_repo(root):
        gitrepo.init(root)
        result.git_initialized = True
    config_path = root / CONFIG_FILE
    if config_path.exists():
        config = load_config(config_path)  # an invalid config is reported, never overwritten
    else:
        config = Config()
        atomic_write(config_path, dump_config(config).encode())
        result.created.append(CONFIG_FILE)
    for rel in (config.paths.refs, config.paths.manifests):
        if not (root / rel).is_dir():
            (root / rel).mkdir(parents=True)
            result.created.append(rel + "/")
    state = root / STATE_DIR
    if not state.is_dir():
        state.mkdir()
        # Self-ignoring, like .pytest_cache: the lock, journal and caches never reach git.
        (state / ".gitignore").write_text("# refmgr's local state; never committed\n*\n")
        result.created.append(STATE_DIR + "/")
    _ensure_lines(root, ".gitattributes", gitattributes_lines(config), result)
    _ensure_lines(root, ".gitignore", gitignore_lines(config), result)
    return result


def gitattributes_lines(config: Config) -> list[str]:
    return [f"/{config.paths.refs}/*.npy binary"]


def gitignore_lines(config: Config) -> list[str]:
    # Temporaries of a write killed mid-way; the next refmgr command deletes them.
    lines = [f"/{config.paths.refs}/.*.tmp", f"/{config.paths.manifests}/.*.tmp"]
    # Rendered audio stays out of git (CI caches it); the locks beside it are meant to be
    # committed, except the per-shard ones that `refmgr render merge` joins and removes.
    renders = config.paths.renders
    return [*lines, f"/{renders}/*/", f"/{renders}/*.shard-*-of-*.lock.json"]


def _ensure_lines(root: Path, name: str, lines: list[str], result: InitResult) -> None:
    path = root / name
    existing = path.read_text("utf-8").splitlines() if path.exists() else []
    missing = [line for line in lines if line not in existing]
    if not missing:
        return
    text = "\n".join([*existing, *missing]) + "\n"
    atomic_write(path, text.encode())
    (result.updated if existing else result.created).append(name)
