"""refmgr say: speak one line in a reference's voice and write it to a WAV file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from refmgr.audio import wav_bytes
from refmgr.backends.base import SynthesisParams
from refmgr.backends.registry import ENGINES, codec_spec, engine_spec
from refmgr.checkpoints import RunOptions, open_engine
from refmgr.errors import BackendError, RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.project import Project
from refmgr.reference import load_reference, voice_reference
from refmgr.render.plan import synthesis_params


@dataclass(frozen=True)
class SayResult:
    name: str
    engine: str
    output: str
    sample_rate: int
    duration_s: float
    params: SynthesisParams
    pins: dict[str, Any]
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": self.engine,
            "output": self.output,
            "sample_rate": self.sample_rate,
            "duration_s": self.duration_s,
            "params": asdict(self.params),
            "pins": self.pins,
            "warnings": list(self.warnings),
        }


def say(
    project: Project,
    name: str,
    text: str,
    output: Path,
    *,
    engine_id: str | None = None,
    params: Mapping[str, float] | None = None,
    options: RunOptions | None = None,
) -> SayResult:
    """``params`` override refmgr.toml's [render] parameters (the engine checks them)."""
    chosen = synthesis_params(project.config.render, params or {})
    ref = load_reference(project, name)
    voice = voice_reference(project, ref)  # verifies the token file
    manifest = ref.manifest
    engine_id = engine_id or _engine_for(manifest.codec_id)
    spec = engine_spec(engine_id)
    family = codec_spec(manifest.codec_id).family
    # Checked before the model loads: these cost nothing to find out.
    if spec.codec_families is not None and family not in spec.codec_families:
        raise BackendError(
            f"reference '{name}' holds {manifest.codec_id} tokens, which the {engine_id} engine "
            f"cannot clone from (it takes {', '.join(sorted(spec.codec_families))})",
            ref.manifest_path,
        )
    if not text.strip():
        raise RefmgrError("the text to speak is empty")
    if output.is_dir():
        raise RefmgrError("is a directory; give a file name such as line.wav", output)
    if not output.parent.is_dir():
        raise RefmgrError("directory does not exist", output.parent)

    engine, warnings = open_engine(project, spec, options or RunOptions())
    try:
        synthesis = engine.synthesize(voice, text, chosen)
        pins = engine.pins()
    finally:
        engine.close()
    atomic_write(output, wav_bytes(synthesis.audio, synthesis.sample_rate))
    return SayResult(
        name=name,
        engine=engine_id,
        output=str(output),
        sample_rate=synthesis.sample_rate,
        duration_s=round(len(synthesis.audio) / synthesis.sample_rate, 3),
        params=chosen,
        pins=pins,
        warnings=warnings,
    )


def _engine_for(codec_id: str) -> str:
    """The engine that clones from this codec's tokens (the fish engines share their codec's id)."""
    if codec_id in ENGINES:
        return codec_id
    known = ", ".join(sorted(ENGINES)) or "none"
    raise BackendError(
        f"no engine clones from {codec_id} tokens by default; choose one with --engine ({known})"
    )
