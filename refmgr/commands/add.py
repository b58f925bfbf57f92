"""refmgr add: encode recordings into token files and write their manifests.

Plan first, then apply: every recording is read, checked and encoded before anything is
written, so one bad file leaves the repository exactly as it was. The files of all the
recordings are then committed as one change under the repository lock (see store.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refmgr import __version__, gitrepo
from refmgr.audio import Recording, check_recording_file, read_recording, resample
from refmgr.backends.base import Codec
from refmgr.backends.registry import codec_spec, load_codec
from refmgr.checkpoints import RunOptions, backend_settings
from refmgr.config import Limits, edited_config, load_config
from refmgr.errors import (
    AudioError,
    BackendError,
    ConfigError,
    RefError,
    RefmgrError,
    TokenFileError,
    UsageError,
    display_path,
)
from refmgr.fsutil import read_regular
from refmgr.manifest import (
    SCHEMA_VERSION,
    check_language,
    check_name,
    dump_manifest,
    validate_data,
)
from refmgr.pins import installed_pin, pin_table, require_installed_matches, with_pin
from refmgr.project import Project
from refmgr.quality.available import qa_available, quality_from_env
from refmgr.quality.base import QualityUnavailable
from refmgr.quality.gates import judge, refusals
from refmgr.reference import check_code_ranges
from refmgr.store import commit, locked
from refmgr.timestamps import utc_now
from refmgr.tokens import encode_npy
from refmgr.tomledit import Key
from refmgr.versions import installed_version
from refmgr.voice import voice_profile

if TYPE_CHECKING:
    from refmgr.quality.reference import ReferenceMeter

TRANSCRIPT_SUFFIXES = (".lab", ".txt")  # the Fish Speech convention first
# A transcript of 90 s of speech is a few KB; a file this big is not one.
MAX_TRANSCRIPT_BYTES = 64 << 10

Progress = Callable[[int, int, Path], None]


@dataclass(frozen=True)
class AddResult:
    name: str
    source: str
    tokens_path: str
    manifest_path: str
    codec: str
    frames: int
    token_bytes: int
    source_bytes: int
    duration_s: float
    replaced: bool
    warnings: tuple[str, ...]
    quality: dict[str, float] | None = None  # the admission measures, when measured

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "tokens": self.tokens_path,
            "manifest": self.manifest_path,
            "codec": self.codec,
            "frames": self.frames,
            "token_bytes": self.token_bytes,
            "source_bytes": self.source_bytes,
            "duration_s": self.duration_s,
            "replaced": self.replaced,
            "warnings": list(self.warnings),
            "quality": self.quality,
        }


@dataclass(frozen=True)
class _Item:
    recording: Path
    name: str
    transcript: str


def add_references(
    project: Project,
    recordings: Sequence[Path],
    *,
    name: str | None = None,
    text: str | None = None,
    text_file: Path | None = None,
    language: str | None = None,
    codec_id: str | None = None,
    force: bool = False,
    stage: bool = False,
    progress: Progress | None = None,
    options: RunOptions | None = None,
    quality: bool | None = None,
) -> list[AddResult]:
    """Add ``recordings`` as references, all or none.

    ``quality``: measure each recording (refmgr[qa]) and judge it against
    [quality.reference]. True requires the extra (QualityUnavailable, exit 2), False
    skips it (the manifest then has no quality section until `refmgr lint --update`),
    None follows REFMGR_QUALITY (auto, the default: measure when the extra is installed).
    """
    if not recordings:
        raise UsageError("no recordings given")
    if len(recordings) > 1 and (name is not None or text is not None or text_file is not None):
        raise UsageError(
            "--name, --text and --text-file apply to a single recording; for several, "
            "put each transcript in a .lab or .txt file beside its recording"
        )
    if language is not None and (problem := check_language(language)):
        raise RefmgrError(problem)
    codec_id = _allowed_codec(project, codec_id)
    require_installed_matches(project.config, codec_id, project.config_path)
    limits = project.config.limits
    items = [_plan(rec, name, text, text_file, limits) for rec in recordings]
    _check_unique(items)
    if not force:
        for item in items:
            _check_free(project, item.name)
    _check_writable(project)

    meter = _meter(quality)
    spec = codec_spec(codec_id)
    settings = backend_settings(project, spec.checkpoint, "codec", options or RunOptions())
    notes: tuple[str, ...] = settings["checkpoint"].warnings if "checkpoint" in settings else ()
    codec = load_codec(codec_id, **settings)  # one model load for every recording of the call
    staged: list[tuple[Path, bytes]] = []
    results: list[AddResult] = []
    for i, item in enumerate(items):
        if progress:
            progress(i, len(items), item.recording)
        npy, manifest, result = _encode(project, codec, item, language, meter)
        staged += [
            (project.tokens_path(item.name), npy),
            (project.manifest_path(item.name), manifest),
        ]
        results.append(result)

    with locked(project):
        replaced = {r.name for r in results if project.manifest_path(r.name).exists()}
        if not force:
            for r in results:  # another process may have taken the name while we encoded
                _check_free(project, r.name)
        staged += _first_pin(project, codec_id)
        for directory in (project.refs_dir, project.manifests_dir):
            directory.mkdir(parents=True, exist_ok=True)
        commit(project, writes=staged)
    results = [
        replace(r, replaced=r.name in replaced, warnings=r.warnings + notes) for r in results
    ]
    if stage:
        gitrepo.stage(project.root, [path for path, _ in staged])
    return results


def _meter(quality: bool | None) -> ReferenceMeter | None:
    if quality is None:
        quality = quality_from_env()
    if quality is False or (quality is None and not qa_available()):
        return None
    if not qa_available():
        raise QualityUnavailable("reference quality measurement (--quality)")
    from refmgr.quality.reference import ReferenceMeter  # scorers load on first use

    return ReferenceMeter()


def _first_pin(project: Project, codec_id: str) -> list[tuple[Path, bytes]]:
    """refmgr.toml with the codec's library version pinned, if this is its first use."""
    config = load_config(project.config_path)  # as it is now, under the lock
    pin = installed_pin(codec_id)
    if codec_id in config.codecs.pins or pin is None:
        return []
    changes: dict[Key, Any] = {("codecs", "pins", codec_id): pin_table(pin)}
    edited = edited_config(project.config_path, changes, with_pin(config, codec_id, pin))
    return [(project.config_path, edited)]


def _allowed_codec(project: Project, codec_id: str | None) -> str:
    codecs = project.config.codecs
    codec_id = codec_id or codecs.default
    codec_spec(codec_id)  # unknown ids fail here, listing the known ones
    if codec_id not in codecs.allowed:
        raise ConfigError(
            f"codec '{codec_id}' is not in codecs.allowed ({', '.join(codecs.allowed)})",
            project.config_path,
        )
    return codec_id


def _plan(
    recording: Path, name: str | None, text: str | None, text_file: Path | None, limits: Limits
) -> _Item:
    # What is wrong with the recording itself comes before what is missing beside it: its
    # kind, size and header, before a model is loaded or a sample read.
    if not os.path.lexists(recording):
        raise AudioError("no such file", recording)
    check_recording_file(recording, limits)
    ref_name = name if name is not None else recording.stem
    problem = check_name(ref_name)
    if problem:
        hint = "" if name is not None else " (from the file name; choose one with --name)"
        raise RefError(problem + hint, recording)
    return _Item(recording, ref_name, _transcript(recording, text, text_file))


def _transcript(recording: Path, text: str | None, text_file: Path | None) -> str:
    if text is not None:
        source: Path | None = None
        value = text
    else:
        source = text_file or next(
            (p for s in TRANSCRIPT_SUFFIXES if (p := recording.with_suffix(s)).is_file()), None
        )
        if source is None:
            raise RefmgrError(
                'no transcript: pass --text "..." or --text-file FILE, or put it in '
                f"{recording.with_suffix('.lab').name} beside the recording",
                recording,
            )
        raw = read_regular(source, MAX_TRANSCRIPT_BYTES, what="transcript file")
        try:
            value = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RefmgrError("transcript is not UTF-8 text", source) from None
    value = " ".join(value.split())
    if not value:
        raise RefmgrError("transcript is empty", source or recording)
    return value


def _check_unique(items: list[_Item]) -> None:
    seen: dict[str, Path] = {}
    for item in items:
        if item.name in seen:
            raise RefError(
                f"reference name '{item.name}' is also used by {seen[item.name]}", item.recording
            )
        seen[item.name] = item.recording


def _check_free(project: Project, name: str) -> None:
    for path in (project.manifest_path(name), project.tokens_path(name)):
        if path.exists():
            raise RefError(
                f"reference '{name}' already exists ({project.relative(path)}); "
                "use --force to replace it"
            )


def _check_writable(project: Project) -> None:
    for directory in (project.refs_dir, project.manifests_dir):
        if not directory.exists():
            # git keeps no empty directory: a fresh clone of a repository without
            # references has none. It is made when the first files are written.
            directory = _existing_parent(directory)
        elif not directory.is_dir():
            raise RefmgrError("is not a directory", directory)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise RefmgrError("directory is not writable", directory)


def _existing_parent(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def _admit(
    project: Project, meter: ReferenceMeter, item: _Item, recording: Recording
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Measure the recording (before it is discarded) and judge it: the manifest's quality
    section and the warnings, or AudioError naming every limit it breaks."""
    measured = meter.measure(recording.samples, recording.sample_rate, item.transcript)
    verdicts = judge(measured.measures, project.config.quality.reference)
    refused = refusals(verdicts)
    if refused:
        where = display_path(item.recording)
        raise AudioError(
            "\n".join([refused[0].message, *(f"{where}: {v.message}" for v in refused[1:])]),
            item.recording,
        )
    return measured.to_manifest(), tuple(v.message for v in verdicts)


def _encode(
    project: Project,
    codec: Codec,
    item: _Item,
    language: str | None,
    meter: ReferenceMeter | None = None,
) -> tuple[bytes, bytes, AddResult]:
    spec = codec.spec
    recording = read_recording(item.recording, project.config.limits)
    quality: dict[str, Any] | None = None
    quality_warnings: tuple[str, ...] = ()
    if meter is not None:
        quality, quality_warnings = _admit(project, meter, item, recording)
    samples = resample(recording.samples, recording.sample_rate, spec.sample_rate)
    try:
        codes = codec.encode(samples)
    except BackendError as e:
        if e.path is not None:
            raise
        raise BackendError(e.message, item.recording) from None  # name the file it failed on
    expected_frames = spec.frames_for(len(samples))
    if codes.shape != (spec.n_codebooks, expected_frames):
        raise AudioError(
            f"codec {spec.id} returned codes of shape {list(codes.shape)}, "
            f"expected [{spec.n_codebooks}, {expected_frames}]",
            item.recording,
        )
    check_code_ranges(codes, spec.id, item.recording)
    npy = encode_npy(codes.astype(spec.storage_dtype))
    limit = project.config.limits.max_token_bytes
    if len(npy) > limit:
        raise TokenFileError(
            f"token file would be {len(npy)} bytes, over limits.max_token_bytes = {limit}",
            item.recording,
        )
    tokens_rel = project.tokens_relpath(item.name)
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "name": item.name,
        "transcript": item.transcript,
        "language": language,
        "tokens": {
            "path": tokens_rel,
            "sha256": _sha256(npy),
            "bytes": len(npy),
            "dtype": spec.storage_dtype,
            "shape": list(codes.shape),
        },
        "codec": {
            "id": spec.id,
            "library": {
                "name": spec.distribution,
                "version": installed_version(spec.distribution) or "unknown",
            },
            "sample_rate": spec.sample_rate,
            "hop": spec.hop,
            "frame_rate": spec.frame_rate,
            "n_codebooks": spec.n_codebooks,
            "code_ranges": [list(r) for r in spec.code_ranges],
            **codec.pins(),
        },
        "source": {
            "file": item.recording.name,
            "sha256": recording.sha256,
            "bytes": recording.bytes,
            "duration_s": round(recording.duration_s, 6),
            "sample_rate": recording.sample_rate,
            "channels": recording.channels,
        },
        "voice": voice_profile(recording.samples, recording.sample_rate, item.transcript),
        "created": {"at": utc_now(), "refmgr_version": __version__},
    }
    if quality is not None:
        data["quality"] = quality
    manifest_path = project.manifest_path(item.name)
    validate_data(data, manifest_path)  # what we write must be what we accept
    result = AddResult(
        name=item.name,
        source=str(item.recording),
        tokens_path=tokens_rel,
        manifest_path=project.relative(manifest_path),
        codec=spec.id,
        frames=int(codes.shape[1]),
        token_bytes=len(npy),
        source_bytes=recording.bytes,
        duration_s=round(recording.duration_s, 3),
        replaced=False,
        warnings=recording.warnings + quality_warnings,
        quality=None if quality is None else quality["measures"],
    )
    return npy, dump_manifest(data), result


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
