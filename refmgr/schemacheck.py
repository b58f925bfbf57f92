"""A fast yes/no check of a JSON document against refmgr's JSON Schemas.

``jsonschema`` costs ~0.1 s to import and ~0.4 ms a manifest, which alone would eat half
of the commit hook's budget for 1,000 references. The schemas refmgr ships use a small
set of keywords, so they are compiled here into plain Python predicates that answer
"valid?" with the exact semantics of jsonschema's Draft 2020-12 validator (booleans are
not numbers, 1.0 is an integer, ``pattern`` is ``re.search``, ``enum``/``const`` tell
``true`` from ``1``). Only a document that fails is handed to jsonschema, for its
message. A schema using any other keyword is refused with UnsupportedSchema, and the
caller then uses jsonschema for everything: a new keyword can never be skipped silently.
tests/test_schemacheck.py holds both answers equal on generated documents.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# Keywords that describe and never constrain.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
)


# keyword -> the _Compiler method that builds its check.
KEYWORDS = {
    key: "kw_" + key.lstrip("$")
    for key in (
        "$ref",
        "type",
        "const",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "items",
        "required",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "properties",
        "additionalProperties",
        "anyOf",
    )
}


OBJECT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
        "propertyNames",
    }
)
ARRAY_KEYWORDS = frozenset({"type", "items", "minItems", "maxItems"})
NUMBER_KEYWORDS = frozenset({"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})


_NUMBER_TYPES = frozenset({int, float})  # exact types: bool (a subclass of int) is not one


class UnsupportedSchema(Exception):
    """The schema uses a keyword this checker does not implement."""


def compile_schema(schema: Mapping[str, Any]) -> Check:
    return _Compiler(schema).compile(schema)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    equal: bool = a == b
    return equal


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(f"schema must be an object or a boolean, not {schema!r}")
        keys = set(schema) - ANNOTATIONS - {"$defs"}
        if schema.get("type") == "object" and keys <= OBJECT_KEYWORDS:
            return self.object(schema)
        if schema.get("type") == "array" and keys <= ARRAY_KEYWORDS and "items" in schema:
            return self.array(schema)
        if schema.get("type") == "number" and keys <= NUMBER_KEYWORDS:
            return self.number(schema)
        checks: list[Check] = []
        for key, arg in schema.items():
            if key in ANNOTATIONS or key == "$defs":
                continue
            method = KEYWORDS.get(key)
            if method is None:
                raise UnsupportedSchema(f"keyword '{key}'")
            checks.append(getattr(self, method)(arg, schema))
        if len(checks) == 1:
            return checks[0]

        def every(v: Any) -> bool:
            # A plain loop: twice as fast as all() over a generator, on the hottest path.
            for check in checks:  # noqa: SIM110
                if not check(v):
                    return False
            return True

        return every

    def object(self, schema: Mapping[str, Any]) -> Check:
        """The common object schema as one function: the same conditions, one pass."""
        props = [(name, self.compile(sub)) for name, sub in schema.get("properties", {}).items()]
        known = frozenset(name for name, _ in props)
        required = tuple(schema.get("required", ()))
        min_props = schema.get("minProperties", 0)
        max_props = schema.get("maxProperties", math.inf)
        extra = schema.get("additionalProperties", True)
        closed = extra is False
        extra_check = None if extra is True or closed else self.compile(extra)
        names = schema.get("propertyNames", True)
        name_check = None if names is True else self.compile(names)

        def check(v: Any) -> bool:
            if not isinstance(v, dict) or not min_props <= len(v) <= max_props:
                return False
            if name_check is not None:
                for key in v:
                    if not name_check(key):
                        return False
            for name in required:
                if name not in v:
                    return False
            if closed and not v.keys() <= known:
                return False
            if extra_check is not None:
                for key, value in v.items():
                    if key not in known and not extra_check(value):
                        return False
            for name, sub in props:  # noqa: SIM110  (a loop: the hot path, see every())
                if name in v and not sub(v[name]):
                    return False
            return True

        return check

    def array(self, schema: Mapping[str, Any]) -> Check:
        item = self.compile(schema["items"])
        low, high = schema.get("minItems", 0), schema.get("maxItems", math.inf)
        items = schema["items"]
        if (
            isinstance(items, Mapping)
            and items.get("type") == "number"
            and set(items)
            <= {
                "type",
                "minimum",
                "maximum",
            }
        ):
            # A long array of bounded numbers (a speaker embedding): types, min and max
            # in C. Stricter than jsonschema only for NaN, which then goes to jsonschema.
            least, most = items.get("minimum", -math.inf), items.get("maximum", math.inf)

            def numbers(v: Any) -> bool:
                if not isinstance(v, list) or not low <= len(v) <= high:
                    return False
                if not v:
                    return True
                return set(map(type, v)) <= _NUMBER_TYPES and least <= min(v) and max(v) <= most

            return numbers
        return lambda v: isinstance(v, list) and low <= len(v) <= high and all(map(item, v))

    def number(self, schema: Mapping[str, Any]) -> Check:
        """A bounded number as one function, with jsonschema's semantics (NaN included)."""
        low = schema.get("minimum", -math.inf)
        high = schema.get("maximum", math.inf)
        above = schema.get("exclusiveMinimum", -math.inf)
        below = schema.get("exclusiveMaximum", math.inf)

        def check(v: Any) -> bool:
            return (
                isinstance(v, int | float)
                and not isinstance(v, bool)
                and not (v < low or v > high or v <= above or v >= below)
            )

        return check

    def kw_ref(self, ref: str, schema: Mapping[str, Any]) -> Check:
        if not ref.startswith("#/$defs/") or "/" in ref[len("#/$defs/") :]:
            raise UnsupportedSchema(f"$ref '{ref}' (only '#/$defs/NAME')")
        if ref not in self.refs:
            target = self.root.get("$defs", {}).get(ref[len("#/$defs/") :])
            if target is None:
                raise UnsupportedSchema(f"$ref '{ref}' points nowhere")
            self.refs[ref] = lambda v: True  # placeholder while compiling a recursive ref
            self.refs[ref] = self.compile(target)
        refs = self.refs
        return lambda v: refs[ref](v)

    def kw_type(self, names: str | list[str], schema: Mapping[str, Any]) -> Check:
        wanted = [names] if isinstance(names, str) else list(names)
        try:
            preds = [TYPES[name] for name in wanted]
        except KeyError as e:
            raise UnsupportedSchema(f"type {e.args[0]!r}") from None
        if len(preds) == 1:
            return preds[0]
        return lambda v: any(p(v) for p in preds)

    def kw_anyOf(self, subschemas: list[Any], schema: Mapping[str, Any]) -> Check:
        if not isinstance(subschemas, list) or not subschemas:
            raise UnsupportedSchema("anyOf must be a non-empty array")
        checks = [self.compile(sub) for sub in subschemas]
        return lambda v: any(check(v) for check in checks)

    def kw_const(self, value: Any, schema: Mapping[str, Any]) -> Check:
        return lambda v: json_equal(v, value)

    def kw_enum(self, values: list[Any], schema: Mapping[str, Any]) -> Check:
        # Strings are the common case: a set lookup, exact because a str equals only a str.
        if all(isinstance(x, str) for x in values):
            allowed = frozenset(values)
            return lambda v: isinstance(v, str) and v in allowed
        return lambda v: any(json_equal(v, x) for x in values)

    def kw_minimum(self, bound: float, schema: Mapping[str, Any]) -> Check:
        return lambda v: not (_is_number(v) and v < bound)

    def kw_maximum(self, bound: float, schema: Mapping[str, Any]) -> Check:
        return lambda v: not (_is_number(v) and v > bound)

    def kw_exclusiveMinimum(self, bound: float, schema: Mapping[str, Any]) -> Check:
        return lambda v: not (_is_number(v) and v <= bound)

    def kw_exclusiveMaximum(self, bound: float, schema: Mapping[str, Any]) -> Check:
        return lambda v: not (_is_number(v) and v >= bound)

    def kw_minLength(self, n: int, schema: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, str) or len(v) >= n

    def kw_maxLength(self, n: int, schema: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, str) or len(v) <= n

    def kw_pattern(self, pattern: str, schema: Mapping[str, Any]) -> Check:
        search = re.compile(pattern).search
        return lambda v: not isinstance(v, str) or search(v) is not None

    def kw_minItems(self, n: int, schema: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, list) or len(v) >= n

    def kw_maxItems(self, n: int, schema: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, list) or len(v) <= n

    def kw_items(self, item_schema: Any, schema: Mapping[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise UnsupportedSchema("keyword 'prefixItems'")
        check = self.compile(item_schema)
        return lambda v: not isinstance(v, list) or all(map(check, v))

    def kw_required(self, names: list[str], schema: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, dict) or all(name in v for name in names)

    def kw_minProperties(self, n: int, schema: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, dict) or len(v) >= n

    def kw_maxProperties(self, n: int, schema: Mapping[str, Any]) -> Check:
        return lambda v: not isinstance(v, dict) or len(v) <= n

    def kw_propertyNames(self, names: Any, schema: Mapping[str, Any]) -> Check:
        check = self.compile(names)
        return lambda v: not isinstance(v, dict) or all(map(check, v))

    def kw_properties(self, props: Mapping[str, Any], schema: Mapping[str, Any]) -> Check:
        checks = [(name, self.compile(sub)) for name, sub in props.items()]

        def properties(v: Any) -> bool:
            if isinstance(v, dict):
                for name, check in checks:
                    if name in v and not check(v[name]):
                        return False
            return True

        return properties

    def kw_additionalProperties(self, extra: Any, schema: Mapping[str, Any]) -> Check:
        if "patternProperties" in schema:
            raise UnsupportedSchema("keyword 'patternProperties'")
        known = frozenset(schema.get("properties", {}))
        if extra is False:
            return lambda v: not isinstance(v, dict) or v.keys() <= known
        check = self.compile(extra)
        return lambda v: (
            not isinstance(v, dict)
            or all(check(value) for key, value in v.items() if key not in known)
        )
