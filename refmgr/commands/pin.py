"""refmgr pin CODEC: record in refmgr.toml which codec library version the tokens are made with.

Used to adopt a new library version (then re-encode, or accept, the references that
``refmgr validate`` reports as stale). Checkpoint hashes of codecs with weights are
pinned by ``refmgr model pin``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from refmgr.backends.registry import codec_spec
from refmgr.config import CodecPin, edited_config, load_config
from refmgr.errors import ConfigError, RefmgrError
from refmgr.manifest import Manifest
from refmgr.pins import pin_table, stale_pins, with_pin
from refmgr.project import Project
from refmgr.reference import iter_references
from refmgr.store import commit, locked
from refmgr.tomledit import Key
from refmgr.versions import installed_version


@dataclass(frozen=True)
class PinResult:
    codec: str
    library: str
    before: str | None
    after: str
    stale: list[str]  # references whose manifests now disagree with the pin

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pin_codec(
    project: Project,
    codec_id: str,
    *,
    library_version: str | None = None,
) -> PinResult:
    spec = codec_spec(codec_id)
    if codec_id not in project.config.codecs.allowed:
        raise ConfigError(
            f"codec '{codec_id}' is not in codecs.allowed "
            f"({', '.join(project.config.codecs.allowed)}); allow it first",
            project.config_path,
        )
    if library_version is not None and not library_version.strip():
        raise RefmgrError("--library-version is empty")
    version = library_version or installed_version(spec.distribution)
    if version is None:
        raise RefmgrError(
            f"{spec.distribution} is not installed: install it ({spec.install_hint}) or give "
            "--library-version"
        )
    with locked(project):
        config = load_config(project.config_path)  # the file as it is now, under the lock
        before = config.codecs.pins.get(codec_id, CodecPin())
        pin = dataclasses.replace(before, library_version=version)
        config = with_pin(config, codec_id, pin)
        changes: dict[Key, Any] = {("codecs", "pins", codec_id): pin_table(pin)}
        commit(
            project,
            writes=[(project.config_path, edited_config(project.config_path, changes, config))],
        )
    project = dataclasses.replace(project, config=config)
    stale = [
        ref.name
        for ref in iter_references(project)
        if not isinstance(ref, Exception) and _stale(ref.manifest, project, codec_id)
    ]
    return PinResult(codec_id, spec.distribution, before.library_version, version, stale)


def _stale(manifest: Manifest, project: Project, codec_id: str) -> bool:
    return manifest.codec_id == codec_id and bool(stale_pins(manifest, project.config))
