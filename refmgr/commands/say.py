"""refmgr say: speak one line in a reference's voice and write it to a WAV file."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from refmgr.audio import wav_bytes
from refmgr.backends.base import EngineSpec
from refmgr.backends.registry import ENGINES, codec_spec, engine_spec
from refmgr.checkpoints import RunOptions, open_engine
from refmgr.errors import BackendError, ConfigError, RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.params import SynthesisParams
from refmgr.project import Project, repo_relative
from refmgr.reference import load_reference, voice_reference
from refmgr.render.plan import synthesis_params

log = logging.getLogger(__name__)  # progress: shown on a terminal (refmgr.cli)


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
            "output": repo_relative(self.output),
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
    output: Path | None,
    *,
    engine_id: str | None = None,
    params: Mapping[str, float] | None = None,
    options: RunOptions | None = None,
) -> SayResult:
    """``params`` override refmgr.toml's [render] parameters; ``engine_id`` None: the
    engine ``render`` would use for this reference (see ``default_engine``)."""
    name = name.lower()  # as scripts take it: reference names are lower-case
    given = dict(params or {})
    chosen = synthesis_params(project.config.render, given)
    ref = load_reference(project, name)
    voice = voice_reference(project, ref)  # verifies the token file
    manifest = ref.manifest
    spec = engine_spec(engine_id) if engine_id else default_engine(project, manifest.codec_id)
    family = codec_spec(manifest.codec_id).family
    # Checked before the model loads: these cost nothing to find out.
    if spec.codec_families is not None and family not in spec.codec_families:
        raise BackendError(
            f"reference '{name}' holds {manifest.codec_id} tokens, which the {spec.id} engine "
            f"cannot clone from (it takes {', '.join(sorted(spec.codec_families))})",
            ref.manifest_path,
        )
    refused = spec.params.first_problem(chosen, spec.id)
    if refused is not None:
        param, problem = refused
        if param in given:
            raise RefmgrError(problem)
        raise ConfigError(f"render.{problem}", project.config_path)
    if not text.strip():
        raise RefmgrError("the text to speak is empty")
    if output is None:
        output = project.listen_path(f"{ref.manifest.name}-say.wav")
    if output.is_dir():
        raise RefmgrError("is a directory; give a file name such as line.wav", output)
    if not output.parent.is_dir():
        raise RefmgrError("directory does not exist", output.parent)

    engine, warnings = open_engine(project, spec, options or RunOptions())
    try:
        log.info("speaking %d characters as %s with %s…", len(text), name, spec.id)
        synthesis = engine.synthesize(voice, text, chosen)
        pins = engine.pins()
    finally:
        engine.close()
    atomic_write(output, wav_bytes(synthesis.audio, synthesis.sample_rate))
    if spec.draft:
        warnings += (
            f"the {spec.id} engine speaks a scratch voice, not a clone of {name}'s; choose a "
            "cloning engine with --engine or engines.default in refmgr.toml",
        )
    return SayResult(
        name=name,
        engine=spec.id,
        output=str(output),
        sample_rate=synthesis.sample_rate,
        duration_s=round(len(synthesis.audio) / synthesis.sample_rate, 3),
        params=chosen,
        pins=pins,
        warnings=warnings,
    )


def default_engine(project: Project, codec_id: str) -> EngineSpec:
    """The engine for a reference of ``codec_id`` when none is named: as for ``render``,
    engines.default in refmgr.toml if it takes the codec's tokens, else the one engine
    made for that codec family."""
    family = codec_spec(codec_id).family
    default = engine_spec(project.config.engines.default)
    if default.codec_families is None or family in default.codec_families:
        return default
    made_for = [e for e in ENGINES.values() if e.codec_families and family in e.codec_families]
    if len(made_for) == 1:
        return made_for[0]
    takes = sorted(
        e.id for e in ENGINES.values() if not e.codec_families or family in e.codec_families
    )
    raise BackendError(
        f"engines.default ({default.id}) cannot clone from {codec_id} tokens and no engine is "
        f"made for them; choose one with --engine ({', '.join(takes) or 'none'})",
        project.config_path,
    )
