from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from refmgr.errors import ManifestError
from refmgr.manifest import check_name, dump_manifest, parse_manifest

ROOT = Path(__file__).resolve().parent.parent


def alpha() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "manifests" / "alpha.json").read_text())
    return data


def parse(data: object) -> None:
    parse_manifest(json.dumps(data).encode(), Path("manifests/alpha.json"))


def test_committed_manifest_is_valid_and_canonical() -> None:
    raw = (ROOT / "manifests" / "alpha.json").read_bytes()
    manifest = parse_manifest(raw, Path("manifests/alpha.json"))
    assert manifest.name == "alpha"
    assert dump_manifest(manifest.data) == raw
    assert raw.endswith(b"}\n")


def test_canonical_form_is_stable_under_key_order() -> None:
    data = alpha()
    shuffled = dict(reversed(list(data.items())))
    assert dump_manifest(shuffled) == dump_manifest(data)
    assert b'"shape": [8, ' in dump_manifest(data)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("schema_version"), "missing 'schema_version'"),
        (
            lambda d: d.update(schema_version=2),
            "schema_version 2 is newer than this refmgr reads (1): upgrade refmgr",
        ),
        (lambda d: d.update(schema_version="1"), "must be an integer"),
        (
            lambda d: d.update(extra=1),
            "Additional properties are not allowed ('extra' was unexpected)",
        ),
        (lambda d: d["tokens"].update(sha256="xyz"), "tokens.sha256"),
        (lambda d: d["tokens"].update(shape=[8]), "tokens.shape"),
        (lambda d: d["tokens"].update(bytes="12"), "tokens.bytes"),
        (lambda d: d["codec"].update(id="mp3"), "codec.id"),
        (lambda d: d.update(name="Alpha!"), "name"),
        (lambda d: d.update(transcript="   "), "transcript"),
        (lambda d: d["source"].pop("sha256"), "'sha256' is a required property"),
        # $ in a pattern also matches before a final newline: lengths close the gap.
        (lambda d: d["source"].update(sha256=d["source"]["sha256"] + "\n"), "source.sha256"),
        (lambda d: d["created"].update(at=d["created"]["at"] + "\n"), "created.at"),
    ],
)
def test_schema_violations(mutate: Any, message: str) -> None:
    data = alpha()
    mutate(data)
    with pytest.raises(ManifestError) as info:
        parse(data)
    assert message in str(info.value)
    assert str(info.value).startswith("manifests/alpha.json: ")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{", "invalid JSON"),
        (b"[]", "top level must be a JSON object"),
        (b"[" * 100000, "invalid JSON"),
    ],
)
def test_malformed_bytes(raw: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(raw, Path("m.json"))


@pytest.mark.parametrize("name", ["a", "alpha", "a-b_c", "0", "x" * 64])
def test_valid_names(name: str) -> None:
    assert check_name(name) is None


@pytest.mark.parametrize("name", ["", "Alpha", "-a", "_a", "a b", "a/b", "..", "x" * 65, "é"])
def test_invalid_names(name: str) -> None:
    assert check_name(name) is not None
