"""refmgr lint: judge the references' stored quality measures, and fill in missing ones.

A reference added with refmgr[qa] carries its admission measures (the manifest's quality
section), measured on the recording; lint judges them against [quality.reference] as it
stands now. A reference added without the extra has none: `--update` decodes its tokens,
measures that audio and writes the section with ``embedding.source = "tokens"`` (the
recording itself is gone). Measures the codec distorts are then stored but not judged
(refmgr.quality.gates.CODEC_SENSITIVE).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from refmgr.backends.base import Codec
from refmgr.backends.registry import codec_spec, load_codec
from refmgr.checkpoints import RunOptions, backend_settings
from refmgr.errors import ManifestError, RefmgrError
from refmgr.manifest import dump_manifest, validate_data
from refmgr.project import Project
from refmgr.quality.available import qa_available
from refmgr.quality.base import QualityUnavailable
from refmgr.quality.gates import Verdict, judge
from refmgr.quality.reference import embedding_source, reference_measures
from refmgr.reference import Reference, iter_references, load_reference, read_codes
from refmgr.store import commit, locked

if TYPE_CHECKING:
    from refmgr.quality.reference import ReferenceMeter

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
NOT_MEASURED = "no quality measures (added without refmgr[qa]): run refmgr lint --update"


@dataclass(frozen=True)
class LintItem:
    name: str
    manifest: str  # relative to the repository root
    measures: dict[str, float] | None
    source: str | None  # "recording" | "tokens" | None (not measured)
    verdicts: tuple[Verdict, ...]
    updated: bool

    @property
    def refused(self) -> bool:
        return any(v.level == "refuse" for v in self.verdicts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "manifest": self.manifest,
            "measured": self.measures is not None,
            "source": self.source,
            "measures": self.measures,
            "updated": self.updated,
            "verdicts": [
                {
                    "level": v.level,
                    "measure": v.measure,
                    "measured": v.measured,
                    "limit": v.limit.value,
                    "key": v.limit.key,
                    "message": v.message,
                }
                for v in self.verdicts
            ],
        }


@dataclass(frozen=True)
class LintResult:
    items: list[LintItem]
    problems: list[RefmgrError]  # manifests that could not be read

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(item.refused for item in self.items)


def lint_references(
    project: Project,
    names: Sequence[str] = (),
    *,
    update: bool = False,
    options: RunOptions | None = None,
    progress: Progress | None = None,
) -> LintResult:
    """Judge NAMES (default: every reference); with ``update``, measure the unmeasured."""
    problems: list[RefmgrError] = []
    refs: list[Reference] = []
    if names:
        refs = [load_reference(project, name) for name in dict.fromkeys(names)]
    else:
        for ref in iter_references(project):
            if isinstance(ref, ManifestError):
                problems.append(ref)
            else:
                refs.append(ref)
    pending = [ref for ref in refs if ref.manifest.data.get("quality") is None]
    sections: dict[str, dict[str, Any]] = {}
    if update and pending:
        if not qa_available():
            raise QualityUnavailable("refmgr lint --update")
        sections = _measure_from_tokens(project, pending, options or RunOptions(), progress)
    gates = project.config.quality.reference
    items = []
    for ref in refs:
        data: Any = ref.manifest.data
        if ref.name in sections:
            data = {**data, "quality": sections[ref.name]}
        measures = reference_measures(data) if data.get("quality") is not None else None
        source = embedding_source(data)
        verdicts = tuple(judge(measures, gates, source or "recording")) if measures else ()
        items.append(
            LintItem(
                name=ref.name,
                manifest=project.relative(ref.manifest_path),
                measures=measures,
                source=source,
                verdicts=verdicts,
                updated=ref.name in sections,
            )
        )
    return LintResult(items, problems)


def _measure_from_tokens(
    project: Project, refs: list[Reference], options: RunOptions, progress: Progress | None
) -> dict[str, dict[str, Any]]:
    """Decode and measure each reference, then write every manifest as one change."""
    from refmgr.quality.reference import ReferenceMeter

    meter = ReferenceMeter()
    codecs: dict[str, Codec] = {}
    sections: dict[str, dict[str, Any]] = {}
    writes = []
    for i, ref in enumerate(refs):
        if progress:
            progress(i, len(refs), ref.name)
        section = _measure_one(project, ref, meter, codecs, options)
        data = {**ref.manifest.data, "quality": section}
        validate_data(data, ref.manifest_path)  # what we write must be what we accept
        sections[ref.name] = section
        writes.append((ref.manifest_path, ref, dump_manifest(data)))
    with locked(project):
        for path, ref, _ in writes:  # another process may have changed it meanwhile
            if load_reference(project, ref.name).manifest.data != ref.manifest.data:
                raise RefmgrError("changed while it was being measured; run lint again", path)
        commit(project, writes=[(path, data) for path, _, data in writes])
    return sections


def _measure_one(
    project: Project,
    ref: Reference,
    meter: ReferenceMeter,
    codecs: dict[str, Codec],
    options: RunOptions,
) -> dict[str, Any]:
    codec_id = ref.manifest.codec_id
    if codec_id not in codecs:
        spec = codec_spec(codec_id)
        codecs[codec_id] = load_codec(
            codec_id, **backend_settings(project, spec.checkpoint, "codec", options)
        )
    codec = codecs[codec_id]
    log.info("decoding and measuring %s…", ref.name)
    audio = codec.decode(read_codes(project, ref))
    measured = meter.measure(audio, codec.spec.sample_rate, ref.manifest.transcript, "tokens")
    return measured.to_manifest()
