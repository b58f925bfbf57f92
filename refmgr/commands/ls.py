"""refmgr ls / show: what references the repository holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from refmgr.errors import ManifestError, RefmgrError
from refmgr.project import Project
from refmgr.reference import iter_references, load_reference, read_codes


@dataclass(frozen=True)
class Summary:
    name: str
    codec: str
    duration_s: float
    frames: int
    token_bytes: int
    transcript: str
    language: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "codec": self.codec,
            "duration_s": self.duration_s,
            "frames": self.frames,
            "token_bytes": self.token_bytes,
            "transcript": self.transcript,
            "language": self.language,
        }


def list_references(project: Project) -> tuple[list[Summary], list[ManifestError]]:
    """Every valid reference, and the problems of the manifests that are not."""
    summaries: list[Summary] = []
    problems: list[ManifestError] = []
    for ref in iter_references(project):
        if isinstance(ref, ManifestError):
            problems.append(ref)
            continue
        m = ref.manifest
        summaries.append(
            Summary(
                name=m.name,
                codec=m.codec_id,
                duration_s=m.duration_s,
                frames=int(m.data["tokens"]["shape"][1]),
                token_bytes=int(m.data["tokens"]["bytes"]),
                transcript=m.transcript,
                language=m.language,
            )
        )
    return summaries, problems


def show_reference(project: Project, name: str) -> dict[str, Any]:
    """The manifest of NAME, plus where its files are and whether its tokens check out."""
    ref = load_reference(project, name)
    try:
        read_codes(project, ref)
        tokens_status = "ok"
    except RefmgrError as e:
        tokens_status = e.message
    return {
        "manifest": dict(ref.manifest.data),
        "manifest_path": project.relative(ref.manifest_path),
        "tokens_path": project.relative(ref.tokens_path),
        "tokens_status": tokens_status,
    }
