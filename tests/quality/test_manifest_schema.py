"""The manifest's quality section: schema-checked on the fast path, old manifests untouched.

The fast checker may be stricter than jsonschema (a document it refuses goes to
jsonschema, which has the last word) but never more lenient; on the keywords the quality
section brought (maxProperties, propertyNames, bounded number arrays) it answers as
jsonschema does.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refmgr.jsondoc import fast_check, schema_problem
from refmgr.schemacheck import compile_schema

pytestmark = pytest.mark.no_qa

ROOT = Path(__file__).resolve().parents[2]
ALPHA = json.loads((ROOT / "manifests" / "alpha.json").read_text("utf-8"))
QUALITY = {
    "measures": {"snr_db": 41.2, "speech_ratio": 0.95},
    "embedding": {"scorer": "speaker", "source": "recording", "values": [0.0625] * 256},
    "pins": {"resemblyzer": "0.1.4", "resemblyzer/pretrained.pt": "sha256:" + "0" * 64},
}

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "maxProperties": 2},
    {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
    {"type": "object", "maxProperties": 3, "additionalProperties": {"type": "number"}},
    {"type": "number", "minimum": -1, "maximum": 1},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
    {
        "type": "array",
        "minItems": 1,
        "maxItems": 3,
        "items": {"type": "number", "minimum": -1, "maximum": 1},
    },
    {"maxProperties": 1},
    {"propertyNames": {"maxLength": 2}},
]

values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 3),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=4),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(SCHEMAS) - 1), value=values)
def test_the_fast_checker_never_accepts_what_jsonschema_refuses(index: int, value: Any) -> None:
    schema = SCHEMAS[index]
    fast = compile_schema(schema)(value)
    slow = jsonschema.Draft202012Validator(schema).is_valid(value)
    if fast:
        assert slow
    elif not _has_nan(value):
        assert not slow  # stricter only where NaN is involved


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, list):
        return any(map(_has_nan, value))
    if isinstance(value, dict):
        return any(map(_has_nan, value.values()))
    return False


def test_a_manifest_with_a_quality_section_passes_the_fast_check() -> None:
    check = fast_check("manifest")
    assert check is not None  # no keyword sends every manifest to jsonschema
    assert check(ALPHA)  # an old manifest, without the section
    assert check({**ALPHA, "quality": QUALITY})


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("embedding", "source"), "guessed", "quality.embedding.source"),
        (("embedding", "values"), [2.0] * 256, "quality.embedding.values.0"),
        (("embedding", "values"), [0.1] * 3, "quality.embedding.values"),
        (("measures", "snr_db"), "loud", "quality.measures.snr_db"),
        (("measures", "Bad Name"), 1.0, "quality.measures"),
        (("pins", "torch"), 2, "quality.pins.torch"),
    ],
)
def test_a_bad_quality_section_is_refused_with_where(
    where: tuple[str, str], value: Any, message: str
) -> None:
    quality = copy.deepcopy(QUALITY)
    quality[where[0]][where[1]] = value
    problem = schema_problem({**ALPHA, "quality": quality}, "manifest")
    assert problem is not None and problem.startswith(message), problem
