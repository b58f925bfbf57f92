"""A reference in the repository: its manifest, its token file, and reading its codes safely."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from refmgr.backends.base import VoiceReference
from refmgr.backends.registry import codec_spec
from refmgr.errors import ManifestError, RefError, TokenFileError
from refmgr.manifest import Manifest, check_name, load_manifest
from refmgr.project import Project


@dataclass(frozen=True)
class Reference:
    manifest: Manifest
    manifest_path: Path
    tokens_path: Path

    @property
    def name(self) -> str:
        return self.manifest.name


def manifest_paths(project: Project) -> list[Path]:
    if not project.manifests_dir.is_dir():
        return []
    return sorted(project.manifests_dir.glob("*.json"))


def known_names(project: Project) -> list[str]:
    return [p.stem for p in manifest_paths(project)]


def require_valid_name(name: str) -> None:
    problem = check_name(name)
    if problem:
        raise RefError(problem)


def load_reference(project: Project, name: str) -> Reference:
    """The reference NAME (in any case, as scripts take it); raises if it is unknown or
    its manifest is invalid."""
    name = name.lower()  # names are lower-case by their pattern: Alpha can only be alpha
    require_valid_name(name)
    path = project.manifest_path(name)
    if not path.exists():
        known = ", ".join(known_names(project)) or "none yet"
        raise RefError(f"no reference '{name}' (known: {known})")
    return reference_from_manifest(project, path)


def reference_from_manifest(project: Project, path: Path) -> Reference:
    manifest = load_manifest(path)
    if manifest.name != path.stem:
        raise ManifestError(
            f"name '{manifest.name}' does not match the file name '{path.stem}'", path
        )
    return Reference(manifest, path, resolve_tokens_path(project, manifest, path))


def iter_references(project: Project) -> Iterator[Reference | ManifestError]:
    """Every reference in name order; an invalid manifest is yielded as its error."""
    for path in manifest_paths(project):
        try:
            yield reference_from_manifest(project, path)
        except ManifestError as e:
            yield e


def resolve_tokens_path(project: Project, manifest: Manifest, manifest_path: Path) -> Path:
    """The token file a manifest names, which must be refs/NAME.npy inside the repository."""
    raw = manifest.tokens_path
    refs = project.config.paths.refs
    problem = tokens_path_problem(raw, project.tokens_relpath(manifest.name), refs)
    if problem:
        raise ManifestError(problem, manifest_path)
    path = project.root / raw
    # A symlink (of the file or of refs/ itself) must not lead out of refs/.
    if path.is_symlink() or project.refs_dir.is_symlink():
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(Path(os.path.realpath(project.root)) / refs):
            raise ManifestError(
                f"tokens.path '{raw}' is a symlink leading outside {refs}/", manifest_path
            )
    return path


def tokens_path_problem(raw: str, expected: str, refs: str) -> str | None:
    """What is wrong with a manifest's tokens.path, which must be exactly ``expected``."""
    rel = PurePosixPath(raw)
    if rel.is_absolute() or raw.startswith(("\\", "~")) or (len(raw) > 1 and raw[1] == ":"):
        return f"tokens.path '{raw}' is absolute; it must be inside {refs}/"
    if ".." in rel.parts:
        return f"tokens.path '{raw}' escapes {refs}/ with '..'"
    if raw != expected:
        return f"tokens.path '{raw}' must be '{expected}'"
    return None


def read_codes(project: Project, reference: Reference) -> np.ndarray[Any, Any]:
    """The reference's codes, checked against the manifest (sha256, dtype, shape) and codec ranges."""
    from refmgr.tokens import read_tokens

    manifest = reference.manifest
    codes = read_tokens(
        reference.tokens_path, manifest.token_expectation, project.config.limits.max_token_bytes
    )
    check_code_ranges(codes, manifest.codec_id, reference.tokens_path)
    return codes


def check_code_ranges(codes: np.ndarray[Any, Any], codec_id: str, path: Path) -> None:
    spec = codec_spec(codec_id)
    if codes.ndim != 2 or codes.shape[0] != spec.n_codebooks:
        raise TokenFileError(
            f"shape {list(codes.shape)} is not ({spec.n_codebooks}, frames) as codec {codec_id} makes",
            path,
        )
    if codes.shape[1] == 0:
        return
    lows, highs = codes.min(axis=1), codes.max(axis=1)
    for book, ((low, high), lo, hi) in enumerate(zip(spec.code_ranges, lows, highs, strict=True)):
        if lo < low or hi > high:
            bad = int(lo) if lo < low else int(hi)
            raise TokenFileError(
                f"code {bad} in codebook {book} is outside {codec_id}'s range {low}..{high}", path
            )


def voice_reference(project: Project, reference: Reference) -> VoiceReference:
    """What an engine gets of ``reference``: its verified codes and what its manifest says."""
    manifest = reference.manifest
    voice = manifest.data["voice"]
    return VoiceReference(
        name=manifest.name,
        codec_id=manifest.codec_id,
        codes=read_codes(project, reference),
        tokens_sha256=manifest.token_expectation.sha256,
        transcript=manifest.transcript,
        language=manifest.language,
        profile={k: voice[k] for k in sorted(voice)},
    )
