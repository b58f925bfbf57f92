"""refmgr model pin: record a checkpoint's location and the sha256 of its files in refmgr.toml."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr.backends.registry import CODECS, checkpoint_layouts
from refmgr.checkpoints import check_present, checkpoint_files, hash_files, remember_location
from refmgr.config import ModelSettings, edited_config, load_config
from refmgr.errors import BackendError, RefmgrError
from refmgr.project import Project
from refmgr.store import commit, locked
from refmgr.tomledit import REMOVE, Key


@dataclass(frozen=True)
class PinResult:
    model: str
    directory: Path
    files: dict[str, str]
    changed: tuple[str, ...]  # files whose pin is new, different or dropped
    location: str  # where the directory was recorded: refmgr.toml or the user's file
    allowed_codec: bool  # the model's codec was added to codecs.allowed

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "directory": str(self.directory),
            "files": dict(self.files),
            "changed": list(self.changed),
            "location": self.location,
            "allowed_codec": self.allowed_codec,
        }


def pin_checkpoint(project: Project, model: str, directory: Path) -> PinResult:
    layouts = checkpoint_layouts()
    if model not in layouts:
        raise RefmgrError(f"unknown model '{model}' (known: {', '.join(sorted(layouts))})")
    layout = layouts[model]
    if not directory.is_dir():
        raise BackendError(
            f"checkpoint directory not found; download it with: {layout.download}", directory
        )
    check_present(directory, layout, layout.files)
    digests = hash_files(checkpoint_files(directory))
    files = {path.name: digest for path, digest in digests.items()}

    root = project.root.resolve()
    absolute = directory.resolve()
    inside = absolute.is_relative_to(root)
    with locked(project):
        # The file as it is now, under the lock: hashing took a while, and another refmgr
        # command may have changed it meanwhile.
        config = load_config(project.config_path)
        before = config.models.get(model, ModelSettings())
        settings = dataclasses.replace(
            before, path=absolute.relative_to(root).as_posix() if inside else None, files=files
        )
        codecs = config.codecs
        allowed_codec = model in CODECS and model not in codecs.allowed
        if allowed_codec:
            codecs = dataclasses.replace(codecs, allowed=(*codecs.allowed, model))
        config = dataclasses.replace(
            config, codecs=codecs, models={**config.models, model: settings}
        )
        changes: dict[Key, Any] = {
            ("models", model, "path"): REMOVE if settings.path is None else settings.path,
            ("models", model, "files"): dict(sorted(files.items())),
        }
        if allowed_codec:
            changes["codecs", "allowed"] = list(codecs.allowed)
        data = edited_config(project.config_path, changes, config)
        commit(project, writes=[(project.config_path, data)])
    location = "refmgr.toml" if inside else str(remember_location(model, absolute))
    changed = tuple(
        sorted(n for n in {*before.files, *files} if before.files.get(n) != files.get(n))
    )
    return PinResult(model, absolute, files, changed, location, allowed_codec)
