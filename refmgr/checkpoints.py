"""Model checkpoints: where they are, what their files hash to, and whether that matches the pins.

The team shares the pins (``[models.NAME] files`` in refmgr.toml: the sha256 of every file
of the checkpoint directory); each machine has its own copy of the weights. A checkpoint
is found, in this order, at:

1. the directory given on the command line;
2. ``$REFMGR_CHECKPOINT_<NAME>`` (``REFMGR_CHECKPOINT_FISH_S1``);
3. ``[models.NAME] path`` in refmgr.toml, relative to the repository root (for a checkpoint
   kept inside the repository, e.g. git-ignored under checkpoints/);
4. the user's ``checkpoints.toml`` ($XDG_CONFIG_HOME/refmgr), which ``refmgr model pin``
   writes for a directory outside the repository, so that no machine-specific absolute
   path is ever committed;
5. upstream's default place, ``checkpoints/<name>`` under the repository root.

A clone must never choose what is loaded (checkpoints are torch pickles): a directory
found inside the repository (3 and 5) is used only if git tracks nothing in it or on the
way to it, and it resolves inside the repository. Its files are then ones this machine put
there (downloaded, git-ignored), never ones a commit brought.

Hashing multi-GB weights takes seconds to minutes, so digests are cached outside git
(``$XDG_CACHE_HOME/refmgr/digests.json``) keyed by absolute path, size and mtime: a file
that changes in any of them is hashed again.

Nothing here imports torch: ``refmgr model pin`` and the validator stay light.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from refmgr.backends.base import CheckpointLayout, Engine, EngineSpec
from refmgr.config import ModelSettings, checkpoint_env_var
from refmgr.errors import BackendError, RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.paths import user_cache_dir, user_config_dir
from refmgr.project import Project
from refmgr.tokens import sha256_file
from refmgr.tomledit import REMOVE, Key, edit

log = logging.getLogger(__name__)  # progress: shown on a terminal (refmgr.cli)

Role = Literal["codec", "engine"]
LOCATIONS_FILE = "checkpoints.toml"
DIGESTS_FILE = "digests.json"


@dataclass(frozen=True)
class RunOptions:
    """What the command line can say about running a model (None: refmgr.toml decides)."""

    device: str | None = None
    precision: str | None = None
    checkpoint: Path | None = None
    allow_unpinned: bool = False


@dataclass(frozen=True)
class Checkpoint:
    """A located checkpoint whose files were hashed and checked against the pins."""

    model: str
    directory: Path
    files: dict[str, str]  # every file the backend loads -> its sha256
    unpinned: bool  # some file differed from the pins and --allow-unpinned was given
    codec_config: str | None
    device: str
    precision: str
    warnings: tuple[str, ...] = field(default=())

    def path(self, name: str) -> Path:
        return self.directory / name


def model_settings(project: Project, model: str) -> ModelSettings:
    return project.config.models.get(model, ModelSettings())


def backend_settings(
    project: Project, layout: CheckpointLayout | None, role: Role, options: RunOptions
) -> dict[str, Any]:
    """The keyword arguments ``registry.load_codec`` / ``load_engine`` need for a backend."""
    if layout is None:
        return {}
    return {"checkpoint": open_checkpoint(project, layout, role, options)}


@dataclass(frozen=True)
class EngineArguments:
    """What ``registry.load_engine`` builds an engine from (plain data: an executor sends
    it to its workers, which build the same engine)."""

    engine_id: str
    device: str | None
    settings: Any
    checkpoint: Checkpoint | None

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.checkpoint.warnings if self.checkpoint else ()

    def load(self) -> Engine:
        from refmgr.backends.registry import load_engine

        log.info("loading the %s engine…", self.engine_id)
        return load_engine(
            self.engine_id, device=self.device, settings=self.settings, checkpoint=self.checkpoint
        )


def engine_arguments(project: Project, spec: EngineSpec, options: RunOptions) -> EngineArguments:
    """The one place that knows what an engine's factory takes: its checked checkpoint, its
    table of refmgr.toml and the device asked for (see ``registry.load_engine``)."""
    if spec.checkpoint is None and options.precision not in (None, "auto"):
        raise BackendError(
            f"engine '{spec.id}' has no model whose precision could be set; "
            f"drop --precision {options.precision}"
        )
    checkpoint = (
        open_checkpoint(project, spec.checkpoint, "engine", options) if spec.checkpoint else None
    )
    settings = getattr(project.config.engines, spec.settings_key) if spec.settings_key else None
    return EngineArguments(spec.id, options.device, settings, checkpoint)


def open_engine(
    project: Project, spec: EngineSpec, options: RunOptions
) -> tuple[Engine, tuple[str, ...]]:
    """Build engine ``spec`` for ``project`` (no weights loaded yet), with its warnings."""
    arguments = engine_arguments(project, spec, options)
    return arguments.load(), arguments.warnings


def open_checkpoint(
    project: Project, layout: CheckpointLayout, role: Role, options: RunOptions
) -> Checkpoint:
    settings = model_settings(project, layout.model)
    directory = locate(project, layout, options.checkpoint)
    needed = layout.codec_files if role == "codec" else layout.files
    check_present(directory, layout, needed)
    digests = hash_files([directory / name for name in needed])
    problems: list[str] = []
    if not settings.files:
        problems.append(
            f"{project.relative(project.config_path)}: no pins for model {layout.model}; "
            f"pin this checkpoint with: refmgr model pin {layout.model} {directory}"
        )
    else:
        for name in needed:
            pinned = settings.files.get(name)
            actual = digests[directory / name]
            if pinned is None:
                problems.append(
                    f"{directory / name}: not pinned in refmgr.toml [models.{layout.model}.files]; "
                    f"re-pin with: refmgr model pin {layout.model} {directory}"
                )
            elif pinned != actual:
                problems.append(
                    f"{directory / name}: sha256 {actual[:12]}… differs from the pin "
                    f"{pinned[:12]}… in refmgr.toml (a different, corrupt or truncated file); "
                    f"download it again with: {layout.download}"
                )
    if problems and not options.allow_unpinned:
        raise BackendError(problems[0] + " (or pass --allow-unpinned)")
    return Checkpoint(
        model=layout.model,
        directory=directory,
        files={name: digests[directory / name] for name in needed},
        unpinned=bool(problems),
        codec_config=settings.codec_config,
        device=options.device or settings.device,
        precision=options.precision or settings.precision,
        warnings=tuple(f"--allow-unpinned: {p}" for p in problems),
    )


def locate(project: Project, layout: CheckpointLayout, override: Path | None = None) -> Path:
    """The checkpoint directory of a model (see the module docstring for the order)."""
    env = checkpoint_env_var(layout.model)
    settings = model_settings(project, layout.model)
    candidates: list[tuple[Path | None, str]] = [
        (override, "the command line"),
        (Path(os.environ[env]) if os.environ.get(env) else None, f"${env}"),
        (project.root / settings.path if settings.path else None, "refmgr.toml"),
        (user_locations().get(layout.model), str(user_config_dir() / LOCATIONS_FILE)),
    ]
    for candidate, source in candidates:
        if candidate is None:
            continue
        directory = candidate.expanduser()
        if not directory.is_dir():
            raise BackendError(
                f"checkpoint directory of {layout.model} (from {source}) not found; "
                f"download it with: {layout.download}",
                directory,
            )
        if source == "refmgr.toml":
            check_not_committed(project, directory, layout.model)
        return directory
    default = project.root / layout.default_dir
    if not default.is_dir():
        raise BackendError(
            f"no checkpoint for {layout.model}: download it with: {layout.download} "
            f"(in the repository root, or anywhere and then: refmgr model pin {layout.model} DIR; "
            f"or set ${env})",
            default,
        )
    check_not_committed(project, default, layout.model)
    return default


def check_not_committed(project: Project, directory: Path, model: str) -> None:
    """Refuse a checkpoint directory the repository itself chose: one that leads outside it,
    or in which (or on the way to which) git tracks anything, e.g. a committed model.pth or
    a committed symlink. The user's own download there is untracked and git-ignored."""
    from refmgr import gitrepo
    from refmgr.errors import GitError

    root = Path(os.path.realpath(project.root))
    real = Path(os.path.realpath(directory))
    if not real.is_relative_to(root):
        raise BackendError(
            f"checkpoint directory of {model} leads outside the repository; a repository "
            f"cannot choose a checkpoint: set ${checkpoint_env_var(model)} or run "
            f"refmgr model pin {model} DIR",
            directory,
        )
    lexical = Path(os.path.abspath(directory)).relative_to(Path(os.path.abspath(project.root)))
    wanted = {real.relative_to(root).as_posix(), lexical.as_posix()}
    on_the_way = {p.as_posix() for rel in (lexical, real.relative_to(root)) for p in rel.parents}
    if not gitrepo.is_git_repo(project.root):
        return  # nothing in it came by a clone
    try:
        entries = gitrepo.index_entries(project.root, sorted(wanted | (on_the_way - {"."})))
    except GitError as e:  # e.g. the directory is inside a submodule: the clone chose it
        raise BackendError(
            f"checkpoint of {model}: cannot tell what git tracks there ({e.message})", directory
        ) from None
    tracked = [
        p
        for p in entries
        if p in on_the_way or any(w == "." or p == w or p.startswith(w + "/") for w in wanted)
    ]
    if tracked:
        raise BackendError(
            f"checkpoint of {model} is committed to the repository ({tracked[0]} is tracked "
            "by git); refmgr loads only checkpoints you downloaded yourself: remove it from "
            f"git, or put yours elsewhere and run refmgr model pin {model} DIR",
            directory,
        )


def check_present(directory: Path, layout: CheckpointLayout, names: tuple[str, ...]) -> None:
    for name in names:
        path = directory / name
        if not path.is_file():
            raise BackendError(
                f"missing checkpoint file of {layout.model}; download the checkpoint with: "
                f"{layout.download}",
                path,
            )


def checkpoint_files(directory: Path) -> list[Path]:
    """The files a pin covers: every regular, non-hidden file at the top of the directory.

    Hidden entries are the hub client's bookkeeping (.cache/, .gitattributes), not weights.
    """
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


# --- where checkpoints are on this machine -------------------------------------------------


def user_locations() -> dict[str, Path]:
    path = user_config_dir() / LOCATIONS_FILE
    try:
        table = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise RefmgrError(f"cannot read checkpoint locations: {e}", path) from None
    found: dict[str, Path] = {}
    for model, entry in table.items():
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            found[model] = Path(entry["path"])
    return found


def remember_location(model: str, directory: Path | None) -> Path:
    """Record (or with None forget) where MODEL's checkpoint is on this machine."""
    path = user_config_dir() / LOCATIONS_FILE
    user_locations()  # a broken file is reported, never overwritten
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        text = "# Where model checkpoints are on this machine; written by `refmgr model pin`.\n"
    # Edited in place, as refmgr.toml is: the user's comments and other entries stay.
    changes: dict[Key, Any] = (
        {(model,): REMOVE} if directory is None else {(model, "path"): str(directory)}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, edit(text, changes).encode())
    return path


# --- hashing, cached -------------------------------------------------------------------------


def hash_files(paths: list[Path]) -> dict[Path, str]:
    """sha256 of each file, from the cache when size and mtime are unchanged."""
    cache_path = user_cache_dir() / DIGESTS_FILE
    cache = _read_cache(cache_path)
    result: dict[Path, str] = {}
    changed = False
    for path in paths:
        key = str(path.resolve())
        try:
            st = path.stat()
        except OSError as e:
            raise BackendError(f"cannot read checkpoint file: {e.strerror}", path) from None
        entry = cache.get(key)
        if isinstance(entry, list) and entry[:2] == [st.st_size, st.st_mtime_ns]:
            result[path] = str(entry[2])
            continue
        log.info("hashing %s (%.1f MB)…", path.name, st.st_size / 1e6)
        try:
            digest = sha256_file(path)
        except OSError as e:
            raise BackendError(f"cannot read checkpoint file: {e.strerror}", path) from None
        cache[key] = [st.st_size, st.st_mtime_ns, digest]
        result[path] = digest
        changed = True
    if changed:
        # A cache that cannot be written only costs time on the next run.
        with contextlib.suppress(OSError):
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(cache_path, json.dumps(cache, indent=0, sort_keys=True).encode())
    return result


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
