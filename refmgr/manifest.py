"""manifests/NAME.json: reading (strictly), and writing (canonically).

A manifest is checked in this order, so each problem gets the clearest message: bytes are
UTF-8, the text is JSON with no duplicate key, the top level is an object, its
``schema_version`` is one this refmgr reads, and then the JSON Schema (draft 2020-12,
package data) holds. Writing is canonical (sorted keys, two-space indent, trailing
newline) so diffs stay small and merges line-based.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr.errors import ManifestError
from refmgr.fsutil import read_regular
from refmgr.jsondoc import schema_problem
from refmgr.tokens import TokenExpectation

SCHEMA_VERSION = 1
MAX_MANIFEST_BYTES = 1 << 20  # manifests are a few KB; anything this big is not one
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
LANGUAGE_PATTERN = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")  # as the schema's


@dataclass(frozen=True)
class Manifest:
    """A schema-valid manifest; ``data`` is the JSON object as read."""

    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def transcript(self) -> str:
        return str(self.data["transcript"])

    @property
    def language(self) -> str | None:
        value = self.data["language"]
        return None if value is None else str(value)

    @property
    def codec_id(self) -> str:
        return str(self.data["codec"]["id"])

    @property
    def tokens_path(self) -> str:
        return str(self.data["tokens"]["path"])

    @property
    def duration_s(self) -> float:
        return float(self.data["source"]["duration_s"])

    @property
    def token_expectation(self) -> TokenExpectation:
        t = self.data["tokens"]
        return TokenExpectation(
            sha256=t["sha256"], bytes=t["bytes"], dtype=t["dtype"], shape=tuple(t["shape"])
        )


def check_language(language: str) -> str | None:
    """The problem with a language tag, or None if it is valid."""
    if LANGUAGE_PATTERN.fullmatch(language):
        return None
    return f"invalid language tag {language!r}: use a BCP 47 tag such as en, en-GB or ja"


def check_name(name: str) -> str | None:
    """The problem with a reference name, or None if it is valid."""
    if NAME_PATTERN.fullmatch(name):
        return None
    return (
        f"invalid reference name '{name}': use 1-64 characters of a-z, 0-9, '_' and '-', "
        "starting with a letter or digit"
    )


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _DuplicateKey(Exception):
    pass


class _NotFinite(Exception):
    """NaN, an infinity, or an integer beyond 64 bits."""


def _reject_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have.
    raise _NotFinite(name)


def _bounded_int(text: str) -> int:
    # Every integer a manifest holds fits in 64 bits; a longer one is hostile (and would
    # overflow the float arithmetic of later checks).
    if len(text) > 20 or not -(2**63) <= (value := int(text)) < 2**63:
        raise _NotFinite(text)
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as inf
        raise _NotFinite(text)
    return value


# JSON's only way to a lone surrogate is a \uD800-\uDFFF escape (the bytes are strict
# UTF-8): only a text with one is walked. A lone surrogate cannot be printed, hashed or
# written back, so every command after validate would crash on it.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _unencodable(value: Any, where: list[str]) -> list[str] | None:
    """The place of the first string (key or value) that is not valid Unicode, or None."""
    if isinstance(value, str):
        return None if value.isascii() or _encodable(value) else where
    if isinstance(value, dict):
        for key, item in value.items():
            if not _encodable(key):
                return [*where, ascii(key)]
            found = _unencodable(item, [*where, key])
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _unencodable(item, [*where, str(i)])
            if found is not None:
                return found
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_manifest(raw: bytes, path: Path) -> Manifest:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(f"not UTF-8 (invalid byte at offset {e.start})", path) from None
    try:
        data = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except _DuplicateKey as e:
        raise ManifestError(f"duplicate key '{e.args[0]}'", path) from None
    except _NotFinite as e:
        raise ManifestError(
            f"invalid JSON: {e.args[0][:40]} is not a finite number within 64 bits", path
        ) from None
    except json.JSONDecodeError as e:
        raise ManifestError(
            f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})", path
        ) from None
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        raise ManifestError(f"invalid JSON: {e}", path) from None
    except RecursionError:
        raise ManifestError("invalid JSON: nested too deeply", path) from None
    if not isinstance(data, dict):
        raise ManifestError("top level must be a JSON object", path)
    if _ESCAPED_SURROGATE.search(text):
        where = _unencodable(data, [])
        if where is not None:
            raise ManifestError(
                f"{'.'.join(where) or 'top level'}: not Unicode text (a lone surrogate "
                "such as \\ud800, which cannot be written as UTF-8)",
                path,
            )
    check_schema_version(data, path)
    return validate_data(data, path)


def check_schema_version(data: Mapping[str, Any], path: Path) -> None:
    version = data.get("schema_version")
    if version is None:
        raise ManifestError("missing 'schema_version'", path)
    if type(version) is not int:
        raise ManifestError(f"'schema_version' must be an integer, not {version!r}", path)
    if version > SCHEMA_VERSION:
        raise ManifestError(
            f"schema_version {version} is newer than this refmgr reads ({SCHEMA_VERSION}): "
            f"upgrade refmgr to a release that reads schema_version {version}",
            path,
        )
    if version != SCHEMA_VERSION:
        raise ManifestError(f"unsupported schema_version {version}", path)


def validate_data(data: dict[str, Any], path: Path) -> Manifest:
    problem = schema_problem(data, "manifest")
    if problem is not None:
        raise ManifestError(problem, path)
    return Manifest(data)


def load_manifest(path: Path) -> Manifest:
    raw = read_regular(path, MAX_MANIFEST_BYTES, ManifestError, "manifest")
    return parse_manifest(raw, path)


def dump_manifest(data: Mapping[str, Any]) -> bytes:
    """Canonical text: sorted keys, two-space indent, arrays of plain values on one line."""
    return (_canonical(data, "") + "\n").encode("utf-8")


def _canonical(value: Any, indent: str) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = indent + "  "
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_canonical(value[k], inner)}"
            for k in sorted(value)
        ]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _canonical(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
