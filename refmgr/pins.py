"""Pins: what refmgr.toml says each codec's tokens are made with, and checking manifests and
the installed libraries against it.

Tokens only mean the same thing when they were made by the same codec library and the
same checkpoint. refmgr.toml records that once per codec (``[codecs.pins.ID]``); every
manifest records what made its tokens; a difference is a *stale pin*, and the message
names the command that fixes it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from refmgr.backends.registry import codec_spec
from refmgr.config import CodecPin, Config
from refmgr.errors import ConfigError
from refmgr.manifest import Manifest
from refmgr.versions import installed_version


def installed_pin(codec_id: str) -> CodecPin | None:
    """A pin of the codec library installed here, or None when it is not installed."""
    version = installed_version(codec_spec(codec_id).distribution)
    return None if version is None else CodecPin(library_version=version)


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
    """Where a manifest disagrees with refmgr.toml's pin for its codec (nothing if unpinned)."""
    codec = manifest.data["codec"]
    codec_id = str(codec["id"])
    pin = config.codecs.pins.get(codec_id)
    if pin is None:
        return []
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
    checkpoint = codec.get("checkpoint", {})
    files = checkpoint.get("files", {})
    for name, digest in sorted(pin.checkpoint.items()):
        if files.get(name) != digest:
            have = files.get(name)
            problems.append(
                f"stale pin: checkpoint file {name} is "
                f"{'not recorded' if have is None else f'sha256 {have[:12]}…'} but "
                f"refmgr.toml pins {digest[:12]}… for {codec_id}; {re_encode}"
            )
    if pin.config_sha256 is not None and checkpoint.get("config_sha256") != pin.config_sha256:
        problems.append(
            f"stale pin: checkpoint config differs from refmgr.toml's pin "
            f"{pin.config_sha256[:12]}… for {codec_id}; {re_encode}"
        )
    return problems
