"""Checking a voice repository: every manifest, every token file, and how they pair up.

The checks read a Snapshot (the working tree or the git index) and return findings;
nothing here raises for a problem in the data, so one run reports every problem. Token
files are untrusted: the size is checked before reading, the npy header is parsed by
hand and checked before the data is looked at, nothing is allocated from what a header
claims, and nothing is ever unpickled.

Listing-only checks (pairs, stray recordings, file names) always cover the whole
repository, because they are cheap and a commit can break them from anywhere; the content
checks cover every reference, or only the ones selected (what pre-commit passes).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.backends.registry import CODECS
from refmgr.config import CONFIG_FILE, MAX_CONFIG_BYTES, Config, parse_config_bytes
from refmgr.errors import ConfigError, ManifestError, TokenFileError
from refmgr.findings import Finding
from refmgr.manifest import MAX_MANIFEST_BYTES, Manifest, check_name, parse_manifest
from refmgr.pins import stale_pins
from refmgr.rawaudio import HEAD_BYTES, recording_kind, sniff
from refmgr.reference import check_code_ranges, tokens_path_problem
from refmgr.snapshot import Snapshot, TooLarge
from refmgr.tokens import (
    DESCRS,
    NpyHeader,
    TokenExpectation,
    content_problems,
    header_problems,
    read_header,
)

FRAME_SLACK = 1  # frames = ceil(samples / hop) on resampled audio: allow one frame either way


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    references: int = 0  # how many references had their content checked

    def add(self, path: str, problem: str, check: str) -> None:
        self.findings.append(Finding(path, problem, check))


@dataclass(frozen=True)
class Layout:
    """Where the references of a repository are, by name, in one snapshot."""

    manifests: dict[str, str]  # name -> manifests/NAME.json
    tokens: dict[str, str]  # name -> refs/NAME.npy
    others: list[str]  # every other file under refs/ or manifests/

    @property
    def names(self) -> list[str]:
        return sorted(self.manifests.keys() | self.tokens.keys())


def snapshot_config(snapshot: Snapshot, report: Report) -> Config | None:
    """The snapshot's refmgr.toml, or None with a finding saying why it cannot be used."""
    try:
        if snapshot.kind(CONFIG_FILE) != "file":
            what = "missing from the index (git add it)" if snapshot.label == "index" else "missing"
            report.add(CONFIG_FILE, f"{what}, or not a regular file", "config")
            return None
        raw = snapshot.read(CONFIG_FILE, MAX_CONFIG_BYTES)
        return parse_config_bytes(raw, Path(CONFIG_FILE))
    except ConfigError as e:
        report.add(CONFIG_FILE, e.message, "config")
    except TooLarge:
        report.add(CONFIG_FILE, f"is over {MAX_CONFIG_BYTES} bytes", "config")
    except OSError as e:
        report.add(CONFIG_FILE, f"cannot read: {e.strerror or e}", "config")
    return None


def layout(snapshot: Snapshot, config: Config) -> Layout:
    manifests: dict[str, str] = {}
    tokens: dict[str, str] = {}
    others: list[str] = []
    for directory, suffix, found in (
        (config.paths.manifests, ".json", manifests),
        (config.paths.refs, ".npy", tokens),
    ):
        for path in snapshot.files(directory):
            rest = path[len(directory) + 1 :]
            if "/" not in rest and rest.endswith(suffix) and len(rest) > len(suffix):
                found[rest[: -len(suffix)]] = path
            else:
                others.append(path)
    return Layout(manifests, tokens, others)


def validate(snapshot: Snapshot, config: Config, *, names: Collection[str] | None = None) -> Report:
    """Check the repository in ``snapshot``; content checks only for ``names`` if given."""
    report = Report()
    where = layout(snapshot, config)
    _check_listing(snapshot, config, where, report)
    selected = where.names if names is None else sorted(set(names) & set(where.names))
    limit = config.limits.max_token_bytes
    snapshot.prefetch(
        [p for n in selected for p in (where.manifests.get(n), where.tokens.get(n)) if p],
        max(limit, MAX_MANIFEST_BYTES),
    )
    for name in selected:
        _check_reference(snapshot, config, name, where, report)
    report.references = len(selected)
    return report


def _check_listing(snapshot: Snapshot, config: Config, where: Layout, report: Report) -> None:
    for name in where.names:
        manifest, tokens = where.manifests.get(name), where.tokens.get(name)
        problem = check_name(name)
        if problem:
            report.add(manifest or tokens or name, problem, "name")
        if manifest is None and tokens is not None:
            report.add(
                tokens,
                f"token file has no manifest ({config.paths.manifests}/{name}.json): "
                "add the reference with refmgr add, or remove the file",
                "pairing",
            )
        elif tokens is None and manifest is not None:
            report.add(
                manifest,
                f"token file {config.paths.refs}/{name}.npy is missing: restore it, or "
                f"remove the reference with refmgr rm {name}",
                "pairing",
            )
    for path in where.others:
        kind = _recording(snapshot, path)
        if kind:
            report.add(
                path,
                f"{kind}: recordings stay out of the repository, only their tokens go in "
                "(encode it with refmgr add)",
                "audio",
            )


def _recording(snapshot: Snapshot, path: str) -> str | None:
    try:
        head = snapshot.head(path, HEAD_BYTES) if snapshot.kind(path) == "file" else b""
    except OSError:
        head = b""
    return recording_kind(path, head)


def _check_reference(
    snapshot: Snapshot, config: Config, name: str, where: Layout, report: Report
) -> None:
    manifest = None
    manifest_path = where.manifests.get(name)
    if manifest_path is not None:
        manifest = _load_manifest(snapshot, manifest_path, config.paths.manifests, report)
        if manifest is not None:
            _check_manifest(manifest, manifest_path, name, config, report)
    tokens_path = where.tokens.get(name)
    if tokens_path is not None:
        expect = None
        if manifest is not None and manifest.tokens_path == tokens_path:
            expect = manifest
        _check_tokens(snapshot, tokens_path, expect, config, report)


def _readable(
    snapshot: Snapshot, path: str, directory: str, what: str, report: Report, check: str
) -> bool:
    """A regular file, or a symlink to one that stays inside ``directory``."""
    kind = snapshot.kind(path)
    if kind == "symlink":
        target = snapshot.resolve(path)
        if target is None or not target.startswith(directory + "/"):
            report.add(path, f"{what} is a symlink leading outside {directory}/", check)
            return False
        kind = snapshot.kind(target)
    if kind != "file":
        report.add(path, f"{what} is not a regular file", check)
        return False
    return True


def read_checked(
    snapshot: Snapshot, path: str, limit: int, what: str, report: Report, check: str
) -> bytes | None:
    """The bytes of ``path`` in the snapshot, or None with a finding saying why not."""
    try:
        return snapshot.read(path, limit)
    except TooLarge as e:
        report.add(path, f"{what} is {e.size} bytes, over the limit of {limit}", check)
    except OSError as e:
        report.add(path, f"cannot read {what}: {e.strerror or e}", check)
    return None


def _load_manifest(
    snapshot: Snapshot, path: str, directory: str, report: Report
) -> Manifest | None:
    if not _readable(snapshot, path, directory, "manifest", report, "manifest"):
        return None
    raw = read_checked(snapshot, path, MAX_MANIFEST_BYTES, "manifest", report, "manifest")
    if raw is None:
        return None
    try:
        return parse_manifest(raw, Path(path))
    except ManifestError as e:
        report.add(path, e.message, "manifest")
        return None


def _check_manifest(
    manifest: Manifest, path: str, name: str, config: Config, report: Report
) -> None:
    data = manifest.data
    if manifest.name != name:
        report.add(
            path, f"name '{manifest.name}' does not match the file name '{name}'", "manifest"
        )
    codec_id = manifest.codec_id
    if codec_id not in config.codecs.allowed:
        report.add(
            path,
            f"codec '{codec_id}' is not allowed by refmgr.toml "
            f"(codecs.allowed: {', '.join(config.codecs.allowed)})",
            "manifest",
        )
    spec = CODECS[codec_id]  # the schema only admits registered ids
    codec = data["codec"]
    expected: dict[str, Any] = {
        "library.name": spec.distribution,
        "sample_rate": spec.sample_rate,
        "hop": spec.hop,
        "n_codebooks": spec.n_codebooks,
        "code_ranges": [list(r) for r in spec.code_ranges],
    }
    actual = {**codec, "library.name": codec["library"]["name"]}
    for key, value in expected.items():
        if actual[key] != value:
            report.add(
                path,
                f"codec.{key} {actual[key]!r} differs from codec {codec_id}'s {value!r}",
                "manifest",
            )
    if not math.isclose(codec["frame_rate"], spec.frame_rate, rel_tol=1e-9):
        report.add(
            path,
            f"codec.frame_rate {codec['frame_rate']!r} differs from codec {codec_id}'s "
            f"{spec.frame_rate!r}",
            "manifest",
        )
    problem = tokens_path_problem(
        manifest.tokens_path, f"{config.paths.refs}/{name}.npy", config.paths.refs
    )
    if problem:
        report.add(path, problem, "manifest")
    dtype = data["tokens"]["dtype"]
    if dtype != spec.storage_dtype:
        # A wider dtype holds the same codes at 2-8x the size in every clone of the repo.
        report.add(
            path,
            f"tokens.dtype {dtype} is not {codec_id}'s {spec.storage_dtype}; "
            f"re-encode with: refmgr add --force {data['source']['file']} --name {name}",
            "manifest",
        )
    shape = data["tokens"]["shape"]
    if shape[0] != spec.n_codebooks:
        report.add(
            path,
            f"tokens.shape {shape} does not have codec {codec_id}'s {spec.n_codebooks} codebooks",
            "manifest",
        )
    duration = manifest.duration_s
    frames = duration * spec.frame_rate
    if not (
        math.isfinite(frames)
        and math.floor(frames) - FRAME_SLACK <= shape[1] <= math.ceil(frames) + FRAME_SLACK
    ):
        report.add(
            path,
            f"tokens.shape has {shape[1]} frames but source.duration_s {duration:g} s at "
            f"{spec.frame_rate:g} frames/s makes {frames:.0f}",
            "manifest",
        )
    limits = config.limits
    if not limits.min_duration_s <= duration <= limits.max_duration_s:
        report.add(
            path,
            f"source.duration_s {duration:g} is outside refmgr.toml's limits "
            f"({limits.min_duration_s:g}..{limits.max_duration_s:g} s)",
            "manifest",
        )
    for stale in stale_pins(manifest, config):
        report.add(path, stale, "pin")


def _check_tokens(
    snapshot: Snapshot, path: str, manifest: Manifest | None, config: Config, report: Report
) -> None:
    if not _readable(snapshot, path, config.paths.refs, "token file", report, "tokens"):
        return
    limit = config.limits.max_token_bytes
    data = read_checked(snapshot, path, limit, "token file", report, "tokens")
    if data is None:
        return
    try:
        header = read_header(io.BytesIO(data), Path(path))
    except TokenFileError as e:
        found = sniff(data[:HEAD_BYTES])
        if found:
            report.add(
                path,
                f"is {found} audio, not a token file: recordings stay out of the repository "
                "(encode it with refmgr add)",
                "audio",
            )
        else:
            report.add(path, e.message, "tokens")
        return
    described = header.data_offset + header.data_bytes
    whole = len(data) == described
    if not whole:
        report.add(
            path,
            f"file is {len(data)} bytes but its header describes {described} (truncated or padded)",
            "tokens",
        )
    if manifest is None:
        return
    for problem in _against_manifest(header, data, manifest.token_expectation):
        report.add(path, problem, "tokens")
    if whole and header.shape == manifest.token_expectation.shape and len(header.shape) == 2:
        if _dtype_within(header.dtype, manifest.codec_id):
            return  # every value the dtype can hold is a valid code
        descr = np.dtype(DESCRS[header.dtype])
        codes = np.frombuffer(data, dtype=descr, offset=header.data_offset).reshape(header.shape)
        try:
            check_code_ranges(codes, manifest.codec_id, Path(path))
        except TokenFileError as e:
            report.add(path, e.message, "tokens")


def _against_manifest(header: NpyHeader, data: bytes, expect: TokenExpectation) -> Iterable[str]:
    digest = hashlib.sha256(data).hexdigest()
    return header_problems(header, expect) + content_problems(len(data), digest, expect)


def _dtype_within(dtype: str, codec_id: str) -> bool:
    """Whether every value of ``dtype`` is a valid code in every codebook (uint8 for codec2)."""
    info = np.iinfo(dtype)
    return all(low <= info.min and info.max <= high for low, high in CODECS[codec_id].code_ranges)
