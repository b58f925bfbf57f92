"""The fast schema checker answers exactly as jsonschema does, and refuses what it cannot do."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refmgr.jsondoc import fast_check, schema, validator
from refmgr.schemacheck import UnsupportedSchema, compile_schema

ROOT = Path(__file__).resolve().parent.parent
ALPHA = json.loads((ROOT / "manifests" / "alpha.json").read_text("utf-8"))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 1.0, 8, 8.0, -1, 1455, "", "a", "en", "uint8", "codec2-3200"]),
    st.text(max_size=12),
    st.sampled_from(
        ["0" * 64, "f" * 64, "F" * 64, "0" * 64 + "\n", "alpha\n", "2026-01-01T00:00:00Z"]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _same_type(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool) or value is None:
        return json_scalars
    if isinstance(value, int):
        return st.one_of(st.integers(-3, 3000), st.just(float(value)), st.just(value))
    if isinstance(value, float):
        return st.one_of(st.floats(-1.0, 100.0), st.integers(-1, 100))
    if isinstance(value, str):
        return st.one_of(
            st.text(max_size=10),
            st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
            st.from_regex(r"[a-z]{2}(-[A-Z]{2})?", fullmatch=True),
            st.just(value + "\n"),
        )
    return json_values


@st.composite
def mutated_manifests(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(ALPHA)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["tweak", "tweak", "tweak", "replace", "delete", "add"]))
        if not path:
            if action == "replace":
                doc = draw(json_values)
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if action == "tweak":  # same JSON type, other value: keeps many documents valid
            parent[last] = draw(_same_type(parent[last]))
        elif action == "replace":
            parent[last] = draw(json_values)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return doc


@pytest.mark.parametrize("name", ["manifest", "lock"])
def test_the_shipped_schemas_compile(name: str) -> None:
    assert fast_check(name) is not None  # else every document goes through slow jsonschema


def test_the_example_manifest_is_valid_both_ways() -> None:
    check = fast_check("manifest")
    assert check is not None and check(ALPHA)
    assert validator("manifest").is_valid(ALPHA)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_manifests())
def test_same_answer_as_jsonschema(doc: Any) -> None:
    check = fast_check("manifest")
    assert check is not None
    assert check(doc) == validator("manifest").is_valid(doc)


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"type": "integer"}, 1.0, True),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"const": 1}, True, False),
        ({"const": 1}, 1.0, True),
        ({"enum": [0, "a"]}, False, False),
        ({"pattern": "^a$"}, "a\n", True),  # re.search, as jsonschema does
        ({"minimum": 0}, "not a number", True),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
        ({"additionalProperties": {"type": "string"}}, {"a": "x", "b": 2}, False),
        ({"$defs": {"n": {"type": "null"}}, "items": {"$ref": "#/$defs/n"}}, [None, 0], False),
        ({"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 2}]}, "ab", True),
        ({"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 2}]}, "abc", False),
        ({"anyOf": [{"type": "number"}, {"type": "null"}]}, True, False),
    ],
)
def test_keyword_semantics_match(schema: dict[str, Any], value: Any, valid: bool) -> None:
    assert compile_schema(schema)(value) is valid
    assert jsonschema.Draft202012Validator(schema).is_valid(value) is valid


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "string"}]},
        {"anyOf": []},
        {"patternProperties": {"a": {}}, "additionalProperties": False},
        {"$ref": "https://example.com/schema"},
        {"type": "decimal"},
        {"properties": {"a": {"format": "email"}}},
    ],
)
def test_unknown_keywords_are_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedSchema):
        compile_schema(schema)


def test_schema_codec_enum_comes_from_the_registry() -> None:
    from refmgr.backends.registry import CODECS

    assert schema("manifest")["properties"]["codec"]["properties"]["id"]["enum"] == sorted(CODECS)
