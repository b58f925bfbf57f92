"""Pins: what refmgr.toml says each codec's tokens are made with, and checking manifests and
the installed libraries against it.

Tokens only mean the same thing when they were made by the same codec library and the
same checkpoint. refmgr.toml records the library once per codec (``[codecs.pins.ID]``) and
the checkpoint files once per model (``[models.NAME] files``); every manifest records what
made its tokens; a difference is a *stale pin*, and the message names the command that
fixes it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from refmgr.backends.registry import codec_spec
from refmgr.config import CodecPin, Config
from refmgr.errors import ConfigError
from refmgr.manifest import Manifest
from refmgr.versions import installed_version


def installed_pin(codec_id: str) -> CodecPin | None:
    """A pin of the codec library installed here, or None when it is not installed."""
    version = installed_version(codec_spec(codec_id).distribution)
    return None if version is None else CodecPin(library_version=version)


def pin_table(pin: CodecPin) -> dict[str, Any]:
    """A codec pin as its refmgr.toml table."""
    return {k: v for k, v in dataclasses.asdict(pin).items() if v is not None}


def with_pin(config: Config, codec_id: str, pin: CodecPin) -> Config:
    pins = {**config.codecs.pins, codec_id: pin}
    codecs = dataclasses.replace(config.codecs, pins=dict(sorted(pins.items())))
    return dataclasses.replace(config, codecs=codecs)


def require_installed_matches(config: Config, codec_id: str, config_path: Path) -> None:
    """Refuse to encode with a library version other than the pinned one."""
    pin = config.codecs.pins.get(codec_id)
    if pin is None or pin.library_version is None:
        return
    distribution = codec_spec(codec_id).distribution
    installed = installed_version(distribution)
    if installed is not None and installed != pin.library_version:
        raise ConfigError(
            f"codecs.pins.{codec_id} pins {distribution} {pin.library_version} but "
            f"{installed} is installed: install {distribution}=={pin.library_version}, or "
            f"re-pin with: refmgr pin {codec_id} (then re-encode its references with "
            "refmgr add --force)",
            config_path,
        )


def stale_pins(manifest: Manifest, config: Config) -> list[str]:
    """Where a manifest disagrees with refmgr.toml's pins for its codec (nothing if unpinned)."""
    codec = manifest.data["codec"]
    codec_id = str(codec["id"])
    pin = config.codecs.pins.get(codec_id, CodecPin())
    re_encode = (
        f"re-encode with: refmgr add --force {manifest.data['source']['file']} "
        f"--name {manifest.name}"
    )
    problems: list[str] = []
    made_with = str(codec["library"]["version"])
    if pin.library_version is not None and made_with != pin.library_version:
        library = codec["library"]["name"]
        problems.append(
            f"stale pin: tokens made with {library} {made_with} but refmgr.toml pins "
            f"{pin.library_version} for {codec_id}; {re_encode} (or, if {made_with} is "
            f"right, re-pin with: refmgr pin {codec_id} --library-version {made_with})"
        )
    problems += _stale_checkpoint(codec, config, re_encode)
    return problems


def _stale_checkpoint(codec: dict[str, Any], config: Config, re_encode: str) -> list[str]:
    """Checkpoint files the manifest recorded that differ from ``[models.NAME] files``."""
    layout = codec_spec(str(codec["id"])).checkpoint
    settings = config.models.get(layout.model) if layout is not None else None
    if layout is None or settings is None or not settings.files:
        return []
    recorded = codec.get("checkpoint", {}).get("files", {})
    problems = []
    for name in layout.codec_files:
        pinned, have = settings.files.get(name), recorded.get(name)
        if pinned is not None and have != pinned:
            problems.append(
                f"stale pin: checkpoint file {name} is "
                f"{'not recorded' if have is None else f'sha256 {have[:12]}…'} but refmgr.toml "
                f"pins {pinned[:12]}… for model {layout.model}; {re_encode}"
            )
    return problems
