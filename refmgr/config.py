"""refmgr.toml: the voice repository's settings.

The file maps onto the frozen dataclasses below; one generic loader walks them, so adding
a setting is adding a field. Unknown keys are errors with a "did you mean" suggestion,
and ``schema_version`` is checked before anything else.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from refmgr.backends.registry import CODECS, ENGINES, checkpoint_layouts
from refmgr.errors import ConfigError
from refmgr.fsutil import read_regular
from refmgr.params import DEFAULTS, PARAM_TYPES, param_problem
from refmgr.tomledit import Key, edit
from refmgr.tomlread import parse_toml

CONFIG_FILE = "refmgr.toml"
MAX_CONFIG_BYTES = 1 << 20  # a few KB in practice
SCHEMA_VERSION = 1
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CodecPin:
    """The codec library version this repository's tokens of one codec are made with; every
    manifest must agree. ``refmgr init`` and the first ``refmgr add`` with a codec record it;
    ``refmgr pin`` changes it. Checkpoint hashes of codecs with weights are pinned per model
    (``[models.NAME] files``, written by ``refmgr model pin``).
    """

    library_version: str | None = None


@dataclass(frozen=True)
class CodecSettings:
    default: str = "codec2-3200"
    allowed: tuple[str, ...] = ("codec2-3200",)
    pins: dict[str, CodecPin] = field(default_factory=dict)  # codec id -> pin


@dataclass(frozen=True)
class Limits:
    min_duration_s: float = 3.0
    max_duration_s: float = 90.0
    max_token_bytes: int = 1_048_576
    # Recordings quieter than this (RMS, dB full scale) are refused as silent.
    silence_dbfs: float = -50.0
    # Warn when more than this fraction of samples sits at full scale.
    clipping_warn_ratio: float = 0.001
    # The longest script line `render` accepts: an engine's memory grows with the line.
    # Long lines render in chunks (render/chunks.py); the limit bounds a script's memory.
    max_line_chars: int = 10000


# The largest limits.max_token_bytes: 30 s of tokens is ~13 KB, 90 s under 50 KB.
MAX_TOKEN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Paths:
    refs: str = "refs"
    manifests: str = "manifests"
    renders: str = "renders"


DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
CONFIG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class ModelSettings:
    """``[models.NAME]``: where a model's checkpoint is, how to run it, what its files hash to.

    The pins (``files``) are what a team shares in git. The location is usually personal:
    ``path`` is only for a checkpoint inside the repository (relative to its root); one
    elsewhere is found through $REFMGR_CHECKPOINT_<NAME> or the user's checkpoints.toml
    (see refmgr.checkpoints).
    """

    path: str | None = None
    # fish-s1 only: the Hydra config in fish_speech/configs that builds the codec.
    codec_config: str | None = None
    device: str = "auto"  # auto: cuda, then mps, then cpu
    precision: str = "auto"  # auto: bf16 on CUDA, fp32 elsewhere
    files: dict[str, str] = field(default_factory=dict)  # file name -> pinned sha256


@dataclass(frozen=True)
class Hooks:
    # Globs, relative to the repository root ('*' also matches '/'), where recordings may be
    # committed (e.g. "examples/*.wav"); refmgr-no-raw-audio blocks them everywhere else.
    allow_audio: tuple[str, ...] = ()


@dataclass(frozen=True)
class DraftEngineSettings:
    # eSpeak NG language voice, without a variant: the draft engine picks the register
    # variant itself from the reference's median pitch.
    voice: str = "en-us"


@dataclass(frozen=True)
class EngineSettings:
    default: str = "draft"  # engine for `refmgr render` without --engine
    draft: DraftEngineSettings = field(default_factory=DraftEngineSettings)


@dataclass(frozen=True)
class RenderSettings:
    # Synthesis parameters of every line unless the script or --seed says otherwise; the
    # names and defaults are those of refmgr.params (a test keeps the two equal).
    seed: int = DEFAULTS.seed
    temperature: float = DEFAULTS.temperature
    top_p: float = DEFAULTS.top_p
    repetition_penalty: float = DEFAULTS.repetition_penalty
    max_new_tokens: int = DEFAULTS.max_new_tokens
    gap_s: float = 0.5  # silence between lines in `render --mix`
    # Long lines (refmgr.render.chunks): split into chunks of at most this many characters;
    # 0: the engine's own limit (EngineSpec.max_chunk_chars), which a value can only lower.
    chunk_chars: int = 0
    chunk_pause_ms: int = 250  # silence between the chunks of a split line
    warn_line_chars: int = 1000  # warn about lines longer than this; 0: never


@dataclass(frozen=True)
class RenderQuality:
    """``[quality.render]``: what every rendered line is scored on, and the gate it must
    pass (``render --gate``, on by default in CI). Scores are measured only with the qa
    extra installed (refmgr[qa]); a limit of 0 (or a max far out of reach) turns its check off.
    The defaults come from measurements on the flite test voices (see the README)."""

    score: bool = True  # score every rendered line when the qa extra is installed
    # The costly measures, each "clone" (for clone engines: not for the draft engine, whose
    # eSpeak voices are no clones and take less time to speak a line than these take to
    # measure it), "always" or "never": the speaker embedding (similarity and cast
    # identification, ~0.03 s of CPU a line) and DNSMOS (~2 s of CPU for a 3 s line: it
    # scores 9 s windows). bench_quality.py --only render --render-full measures them.
    speaker: str = "clone"
    dnsmos: str = "clone"
    retakes: int = 2  # takes tried after a failing first one (render --retakes)
    min_similarity: float = 0.80  # cosine to the reference's speaker embedding
    min_margin: float = 0.05  # own similarity minus the nearest other voice's
    min_dnsmos_ovrl: float = 2.0
    min_lufs: float = -40.0  # integrated loudness, ITU-R BS.1770
    max_true_peak_db: float = 0.0  # dBTP
    max_clipped_ratio: float = 0.001  # samples at full scale
    max_lead_silence_s: float = 1.0
    max_trail_silence_s: float = 1.5
    # Duration against what the text takes at the reference's speaking rate.
    min_duration_ratio: float = 0.65
    max_duration_ratio: float = 1.6


MEASURE_CHOICES = ("clone", "always", "never")
MAX_RETAKES = 20


@dataclass(frozen=True)
class ReferenceGates:
    """[quality.reference]: what `refmgr add` refuses or warns about, measured on the recording.

    Each limit is named MEASURE_{warn,refuse}_{below,above}; refmgr.quality.gates reads the
    names. The defaults come from the flite fixture voices (README, "Quality gates").
    """

    gate: bool = True  # false: measure and store, warn, never refuse
    speech_ratio_refuse_below: float = 0.4
    speech_ratio_warn_below: float = 0.6
    snr_db_refuse_below: float = 15.0
    snr_db_warn_below: float = 25.0
    clipped_ratio_refuse_above: float = 0.01
    clipped_ratio_warn_above: float = 0.001
    true_peak_db_warn_above: float = -1.0
    lufs_warn_below: float = -35.0
    lufs_warn_above: float = -9.0
    dnsmos_sig_refuse_below: float = 2.0
    dnsmos_sig_warn_below: float = 2.5
    dnsmos_bak_refuse_below: float = 2.5
    dnsmos_bak_warn_below: float = 3.5
    dnsmos_ovrl_refuse_below: float = 2.0
    dnsmos_ovrl_warn_below: float = 2.5
    chars_per_second_refuse_below: float = 4.0
    chars_per_second_refuse_above: float = 30.0
    chars_per_second_warn_below: float = 8.0
    chars_per_second_warn_above: float = 22.0
    speaker_consistency_refuse_below: float = 0.80
    speaker_consistency_warn_below: float = 0.84


# Which way each score a lock records gets worse: +1 when it falls (higher is better), -1
# when it rises, 0 either way (loudness and duration: away from where it was). What
# ``[quality.drift] max_drop`` may name, and how ``render compare`` reads a change.
SCORE_DIRECTIONS: dict[str, int] = {
    "similarity": 1,
    "margin": 1,
    "nearest_similarity": 1,
    "dnsmos_sig": 1,
    "dnsmos_bak": 1,
    "dnsmos_ovrl": 1,
    "lufs": 0,
    "true_peak_db": -1,
    "clipped_ratio": -1,
    "lead_silence_s": -1,
    "trail_silence_s": -1,
    "duration_ratio": 0,
}


@dataclass(frozen=True)
class DriftLimits:
    """``[quality.drift]``: how far a line may move between two locks of a script before
    ``render compare`` calls it drift and exits 1 (a model upgrade guarded in CI). The
    figures behind the defaults are in the README ("Drift report")."""

    # Cosine of the speaker embeddings of the old and the new audio of a line.
    min_similarity: float = 0.78
    # |new duration / old duration - 1|, judged for lines whose text did not change.
    max_duration_change: float = 0.25
    # Score -> how far it may move the worse way (SCORE_DIRECTIONS) between the scores the
    # two locks record. A table given in refmgr.toml replaces this one.
    max_drop: dict[str, float] = field(
        default_factory=lambda: {"similarity": 0.10, "margin": 0.10, "dnsmos_ovrl": 0.5}
    )
    # Outputs a render replaces or removes are kept in .refmgr/cache/outputs (the old audio
    # of a later compare), the least recently used dropped past this size; 0: none kept.
    keep_outputs_mb: int = 256


MAX_KEEP_OUTPUTS_MB = 1 << 20  # 1 TB: past it, a typo


@dataclass(frozen=True)
class QualitySettings:
    reference: ReferenceGates = field(default_factory=ReferenceGates)
    render: RenderQuality = field(default_factory=RenderQuality)
    drift: DriftLimits = field(default_factory=DriftLimits)


# The longest pause between lines in a mix: longer is a typo (1e12), not a pause, and the
# silence is allocated in memory.
MAX_GAP_S = 60.0
# Below a few words a chunk has no prosody left; above, no engine takes it at once.
MIN_CHUNK_CHARS, MAX_CHUNK_CHARS = 20, 100_000
MAX_CHUNK_PAUSE_MS = 10_000


@dataclass(frozen=True)
class Config:
    schema_version: int = SCHEMA_VERSION
    codecs: CodecSettings = field(default_factory=CodecSettings)
    limits: Limits = field(default_factory=Limits)
    paths: Paths = field(default_factory=Paths)
    hooks: Hooks = field(default_factory=Hooks)
    engines: EngineSettings = field(default_factory=EngineSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    models: dict[str, ModelSettings] = field(default_factory=dict)
    quality: QualitySettings = field(default_factory=QualitySettings)


T = TypeVar("T")


def load_config(path: Path) -> Config:
    raw = read_regular(path, MAX_CONFIG_BYTES, ConfigError)
    return parse_config_bytes(raw, path)


def parse_config_bytes(raw: bytes, path: Path) -> Config:
    """A config from the bytes of a refmgr.toml (read from disk or from the git index)."""
    table = parse_toml(raw, path, ConfigError)
    return parse_config(table, path)


def parse_config(table: dict[str, Any], path: Path) -> Config:
    version = table.get("schema_version")
    if version is None:
        raise ConfigError(
            "missing 'schema_version' (this file was not written by refmgr init)", path
        )
    if type(version) is not int:
        raise ConfigError(f"'schema_version' must be an integer, not {shown(version)}", path)
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"schema_version {version} is newer than this refmgr supports ({SCHEMA_VERSION}): "
            "upgrade refmgr",
            path,
        )
    if version < 1:
        raise ConfigError(f"unsupported schema_version {version}", path)
    config = _build(Config, table, "", path)
    _check_semantics(config, path)
    return config


def _build(cls: type[T], table: dict[str, Any], where: str, path: Path) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in table:
        if key not in fields:
            raise ConfigError(_unknown_key(where + key, key, list(fields)), path)
    values: dict[str, Any] = {}
    for name in fields:
        if name in table:
            values[name] = _convert(hints[name], table[name], where + name, path)
    return cls(**values)


def _convert(hint: Any, value: Any, key: str, path: Path) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a table", path)
        return _build(typing.cast(type, hint), value, key + ".", path)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, list):
            raise ConfigError(f"'{key}' must be an array", path)
        return tuple(_convert(item, v, f"{key}[{i}]", path) for i, v in enumerate(value))
    if origin is dict:
        _, item = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a table", path)
        return {k: _convert(item, v, f"{key}.{_name(k)}", path) for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, key, path)
    if type(value) is int and not -(2**63) <= value < 2**63:
        # Beyond what any setting means; float() or an index of it would overflow.
        raise ConfigError(f"'{key}' must be within 64 bits, not {shown(value)}", path)
    if hint is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ConfigError(f"'{key}' must be a number, not {shown(value)}", path)
        return float(value)
    if hint in (int, str, bool):
        if type(value) is not hint:
            raise ConfigError(f"'{key}' must be {_type_name(hint)}, not {shown(value)}", path)
        return value
    raise TypeError(f"unsupported config type {hint!r} for {key}")


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message quotes it: its repr (one line, escapes visible), cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name(key: str) -> str:
    """A table key a user wrote, as a message names it: plain, or quoted and cut short."""
    simple = key and len(key) <= 60 and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if simple else shown(key)


def _type_name(hint: type) -> str:
    return {int: "an integer", str: "a string", bool: "true or false"}[hint]


def _unknown_key(full: str, key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean '{full[: -len(key)]}{close[0]}'?)" if close else ""
    return f"unknown key {shown(full)}{hint}"


def _check_semantics(config: Config, path: Path) -> None:
    if config.engines.default not in ENGINES:
        raise ConfigError(
            f"engines.default: unknown engine {shown(config.engines.default)} "
            f"(known: {', '.join(sorted(ENGINES))})",
            path,
        )
    voice = config.engines.draft.voice
    if not voice or not all(c.isascii() and (c.isalnum() or c in "-_/") for c in voice):
        raise ConfigError(
            f"engines.draft.voice must be an eSpeak NG language voice such as 'en-us' "
            f"(no '+variant'), not {shown(voice)}",
            path,
        )
    for name in PARAM_TYPES:
        problem = param_problem(name, getattr(config.render, name))
        if problem:
            raise ConfigError(f"render.{problem}", path)
    if not 0 <= config.render.gap_s <= MAX_GAP_S:
        raise ConfigError(
            f"render.gap_s must be between 0 and {MAX_GAP_S:g} seconds, not {config.render.gap_s}",
            path,
        )
    _check_chunking(config.render, path)
    _check_render_quality(config.quality.render, path)
    _check_drift(config.quality.drift, path)

    for codec_id in (config.codecs.default, *config.codecs.allowed):
        if codec_id not in CODECS:
            raise ConfigError(
                f"unknown codec {shown(codec_id)} (known: {', '.join(sorted(CODECS))})", path
            )
    if config.codecs.default not in config.codecs.allowed:
        raise ConfigError(
            f"codecs.default {shown(config.codecs.default)} is not in codecs.allowed", path
        )
    for codec_id, pin in config.codecs.pins.items():
        if codec_id not in CODECS:
            raise ConfigError(
                f"unknown codec {shown(codec_id)} in codecs.pins "
                f"(known: {', '.join(sorted(CODECS))})",
                path,
            )
        if pin.library_version is not None and not pin.library_version.strip():
            raise ConfigError(f"codecs.pins.{_name(codec_id)}.library_version is empty", path)
    _check_reference_gates(config.quality.reference, path)
    limits = config.limits
    if not 0 < limits.min_duration_s < limits.max_duration_s:
        raise ConfigError(
            "limits: need 0 < min_duration_s < max_duration_s "
            f"(got {limits.min_duration_s} and {limits.max_duration_s})",
            path,
        )
    if not 0 < limits.max_token_bytes <= MAX_TOKEN_BYTES:
        # Token files are tens of kilobytes; readers allocate up to the limit before reading.
        raise ConfigError(
            f"limits.max_token_bytes must be between 1 and {MAX_TOKEN_BYTES}, "
            f"not {limits.max_token_bytes}",
            path,
        )
    if limits.max_line_chars <= 0:
        raise ConfigError("limits.max_line_chars must be positive", path)
    for name in ("refs", "manifests", "renders"):
        value = getattr(config.paths, name)
        p = PurePosixPath(value)
        if not value or value == "." or p.is_absolute() or ".." in p.parts or "\\" in value:
            raise ConfigError(
                f"paths.{name} must be a relative path inside the repository, not {shown(value)}",
                path,
            )
        if p.parts[0] == ".refmgr" or ".git" in (part.lower() for part in p.parts):
            # git's own files and refmgr's local state: never a place for voices or renders.
            raise ConfigError(
                f"paths.{name} must not lead into .git or .refmgr, not {value!r}", path
            )
        if p.as_posix() != value:
            # Manifests record token paths as PATHS.refs + "/NAME.npy": one spelling only.
            raise ConfigError(
                f"paths.{name} must be written plainly, like {shown(p.as_posix())} "
                f"(no trailing '/', './' or '//'), not {shown(value)}",
                path,
            )
    for model, settings in config.models.items():
        _check_model(model, settings, path)


def _check_chunking(settings: RenderSettings, path: Path) -> None:
    chars = settings.chunk_chars
    if chars != 0 and not MIN_CHUNK_CHARS <= chars <= MAX_CHUNK_CHARS:
        raise ConfigError(
            f"render.chunk_chars must be 0 (the engine's limit) or between {MIN_CHUNK_CHARS} "
            f"and {MAX_CHUNK_CHARS}, not {chars}",
            path,
        )
    if not 0 <= settings.chunk_pause_ms <= MAX_CHUNK_PAUSE_MS:
        raise ConfigError(
            f"render.chunk_pause_ms must be between 0 and {MAX_CHUNK_PAUSE_MS}, "
            f"not {settings.chunk_pause_ms}",
            path,
        )
    if settings.warn_line_chars < 0:
        raise ConfigError(
            f"render.warn_line_chars must be 0 (never warn) or more, not {settings.warn_line_chars}",
            path,
        )


def _check_render_quality(settings: RenderQuality, path: Path) -> None:
    where = "quality.render"
    for name in ("speaker", "dnsmos"):
        value = getattr(settings, name)
        if value not in MEASURE_CHOICES:
            raise ConfigError(
                f"{where}.{name} must be one of {', '.join(MEASURE_CHOICES)}, not {shown(value)}",
                path,
            )
    if not 0 <= settings.retakes <= MAX_RETAKES:
        raise ConfigError(
            f"{where}.retakes must be between 0 and {MAX_RETAKES}, not {settings.retakes}", path
        )
    for name in ("min_similarity", "min_margin"):
        value = getattr(settings, name)
        if not -1 <= value <= 1:
            raise ConfigError(f"{where}.{name} must be between -1 and 1, not {value}", path)
    if not 0 <= settings.max_clipped_ratio <= 1:
        raise ConfigError(
            f"{where}.max_clipped_ratio must be between 0 and 1, not {settings.max_clipped_ratio}",
            path,
        )
    for name in ("max_lead_silence_s", "max_trail_silence_s", "min_duration_ratio"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"{where}.{name} must not be negative", path)
    if not settings.min_duration_ratio < settings.max_duration_ratio:
        raise ConfigError(
            f"{where}: need min_duration_ratio < max_duration_ratio (got "
            f"{settings.min_duration_ratio} and {settings.max_duration_ratio})",
            path,
        )


def _check_drift(limits: DriftLimits, path: Path) -> None:
    where = "quality.drift"
    if not -1 <= limits.min_similarity <= 1:
        raise ConfigError(
            f"{where}.min_similarity must be between -1 and 1, not {limits.min_similarity}", path
        )
    if limits.max_duration_change < 0:
        raise ConfigError(f"{where}.max_duration_change must not be negative", path)
    for name, value in limits.max_drop.items():
        if name not in SCORE_DIRECTIONS:
            raise ConfigError(
                _unknown_key(f"{where}.max_drop.{name}", name, list(SCORE_DIRECTIONS)), path
            )
        if value < 0:
            raise ConfigError(f"{where}.max_drop.{_name(name)} must not be negative", path)
    if not 0 <= limits.keep_outputs_mb <= MAX_KEEP_OUTPUTS_MB:
        raise ConfigError(
            f"{where}.keep_outputs_mb must be between 0 and {MAX_KEEP_OUTPUTS_MB}, "
            f"not {limits.keep_outputs_mb}",
            path,
        )


def _check_reference_gates(gates: ReferenceGates, path: Path) -> None:
    """A refusal limit must be at least as far out as the warning before it."""
    for f in dataclasses.fields(gates):
        if "_refuse_" not in f.name:
            continue
        warn_name = f.name.replace("_refuse_", "_warn_")
        if not hasattr(gates, warn_name):
            continue
        refuse, warn = getattr(gates, f.name), getattr(gates, warn_name)
        below = f.name.endswith("_below")
        if (refuse > warn) if below else (refuse < warn):
            raise ConfigError(
                f"quality.reference.{f.name} ({refuse:g}) must be "
                f"{'at most' if below else 'at least'} {warn_name} ({warn:g})",
                path,
            )


def _check_model(model: str, settings: ModelSettings, path: Path) -> None:
    layouts = checkpoint_layouts()
    where = f"models.{_name(model)}"
    if model not in layouts:
        raise ConfigError(
            f"unknown model {shown(model)} (known: {', '.join(sorted(layouts))})", path
        )
    if settings.path is not None:
        p = PurePosixPath(settings.path)
        if (
            not settings.path
            or p.is_absolute()
            or "\\" in settings.path
            or settings.path.startswith("~")
        ):
            raise ConfigError(
                f"{where}.path must be relative to the repository root, not {shown(settings.path)}; "
                f"for a checkpoint outside the repository use {checkpoint_env_var(model)} "
                f"or run: refmgr model pin {model} PATH",
                path,
            )
    if settings.device not in DEVICES:
        raise ConfigError(
            f"{where}.device must be one of {', '.join(DEVICES)}, not {shown(settings.device)}",
            path,
        )
    if settings.precision not in PRECISIONS:
        raise ConfigError(
            f"{where}.precision must be one of {', '.join(PRECISIONS)}, not {shown(settings.precision)}",
            path,
        )
    if settings.codec_config is not None and not CONFIG_NAME.fullmatch(settings.codec_config):
        raise ConfigError(
            f"{where}.codec_config must be a config name such as 'modded_dac_vq', "
            f"not {shown(settings.codec_config)}",
            path,
        )
    for name, digest in settings.files.items():
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ConfigError(f"{where}.files: {shown(name)} is not a file name", path)
        if not SHA256.fullmatch(digest):
            raise ConfigError(
                f"{where}.files.{_name(name)} must be a sha256 (64 hex digits), not {shown(digest)}",
                path,
            )


def checkpoint_env_var(model: str) -> str:
    """The environment variable that points at MODEL's checkpoint: REFMGR_CHECKPOINT_FISH_S1."""
    return "REFMGR_CHECKPOINT_" + re.sub(r"[^A-Z0-9]", "_", model.upper())


def edited_config(path: Path, changes: Mapping[Key, Any], expected: Config) -> bytes:
    """The bytes of refmgr.toml at ``path`` with ``changes`` made in place (comments, order
    and layout kept: see refmgr.tomledit). What is written must read back as ``expected``."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", path) from None
    data = edit(text, changes).encode()
    if parse_config_bytes(data, path) != expected:  # a bug in the edit, never the user's
        raise AssertionError(f"editing {path.name} in place did not give the intended config")
    return data


def dump_config(config: Config) -> str:
    """The canonical TOML text of a config (what init and later edits write)."""
    lines = [
        "# refmgr voice repository settings. Unknown keys are errors.",
        "# Reference: the 'Configuration' section of refmgr's README.",
    ]
    _emit(config, [], lines)
    return "\n".join(lines) + "\n"


def _emit(obj: Any, prefix: list[str], lines: list[str]) -> None:
    scalars: list[tuple[str, Any]] = []
    tables: list[tuple[list[str], Any]] = []
    items = (
        [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj)]
        if dataclasses.is_dataclass(obj)
        else list(obj.items())
    )
    for name, value in items:
        if isinstance(value, dict) and not value:
            continue  # an empty table says nothing
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            tables.append(([*prefix, name], value))
        elif value is not None:
            scalars.append((name, value))
    for name, value in scalars:
        lines.append(f"{_key(name)} = {_toml_value(value)}")
    for keys, value in tables:
        # A table holding only subtables (codecs.pins) needs no header of its own.
        if _has_scalars(value):
            lines.append("")
            lines.append("[" + ".".join(_key(k) for k in keys) + "]")
        _emit(value, keys, lines)


def _has_scalars(obj: Any) -> bool:
    values = (
        [getattr(obj, f.name) for f in dataclasses.fields(obj)]
        if dataclasses.is_dataclass(obj)
        else list(obj.values())
    )
    return any(
        v is not None and not (dataclasses.is_dataclass(v) or isinstance(v, dict)) for v in values
    )


def _key(name: str) -> str:
    if name and all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
        return name
    return json.dumps(name, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {shown(value)} to TOML")
