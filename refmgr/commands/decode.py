"""refmgr decode: turn a reference's stored tokens back into audio, to hear what is kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr.audio import resample, wav_bytes
from refmgr.backends.registry import codec_spec, load_codec
from refmgr.checkpoints import RunOptions, backend_settings
from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.project import Project, repo_relative
from refmgr.reference import load_reference, read_codes
from refmgr.versions import installed_version

log = logging.getLogger(__name__)  # progress: shown on a terminal (refmgr.cli)


@dataclass(frozen=True)
class DecodeResult:
    name: str
    output: str
    sample_rate: int
    duration_s: float
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "output": repo_relative(self.output),
            "sample_rate": self.sample_rate,
            "duration_s": self.duration_s,
            "warnings": list(self.warnings),
        }


def decode_reference(
    project: Project,
    name: str,
    output: Path | None = None,
    *,
    sample_rate: int | None = None,
    options: RunOptions | None = None,
) -> DecodeResult:
    """Decode NAME's tokens to ``output`` (default: listen/NAME.wav, git-ignored)."""
    ref = load_reference(project, name)
    codes = read_codes(project, ref)
    if output is None:
        output = project.listen_path(f"{ref.manifest.name}.wav")
    if output.is_dir():
        raise RefmgrError("is a directory; give a file name such as out.wav", output)
    if not output.parent.is_dir():
        raise RefmgrError("directory does not exist", output.parent)
    warnings = []
    library = ref.manifest.data["codec"]["library"]
    installed = installed_version(library["name"]) or "nothing (not installed)"
    if installed != library["version"]:
        warnings.append(
            f"tokens were made with {library['name']} {library['version']}, "
            f"decoding with {installed}"
        )
    spec = codec_spec(ref.manifest.codec_id)
    codec = load_codec(
        spec.id, **backend_settings(project, spec.checkpoint, "codec", options or RunOptions())
    )
    warnings += _checkpoint_drift(ref.manifest.data["codec"], codec.pins())
    log.info("decoding %s with %s…", ref.manifest.name, spec.id)
    audio = codec.decode(codes)
    rate = codec.spec.sample_rate
    if sample_rate is not None and sample_rate != rate:
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    atomic_write(output, wav_bytes(audio, rate))
    return DecodeResult(
        name=name,
        output=str(output),
        sample_rate=rate,
        duration_s=round(len(audio) / rate, 3),
        warnings=tuple(warnings),
    )


def _checkpoint_drift(made_with: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Checkpoint files the tokens were made with that differ from those decoding them."""
    before = made_with.get("checkpoint", {}).get("files", {})
    after = now.get("checkpoint", {}).get("files", {})
    return [
        f"tokens were made with {file} sha256 {digest[:12]}…, decoding with "
        f"{after.get(file, 'none')[:12]}…"
        for file, digest in sorted(before.items())
        if after.get(file) != digest
    ]
