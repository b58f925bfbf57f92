"""The JSON formats refmgr reads, each with one JSON Schema (package data, draft 2020-12),
checked the same way: the fast compiled check first (schemacheck.py), jsonschema only to
word the problem of a document that fails.

``manifest``: manifests/NAME.json; ``lock``: renders/SCRIPT.lock.json.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from refmgr.backends.registry import CODECS
from refmgr.schemacheck import Check, UnsupportedSchema, compile_schema

FILES = {"manifest": "schemas/manifest.v1.json", "lock": "schemas/lock.v1.json"}


@functools.cache
def schema(name: str) -> dict[str, Any]:
    text = resources.files("refmgr").joinpath(FILES[name]).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    if name == "manifest":
        # The registry is the one list of codec ids: the schema takes its enum from there.
        loaded["properties"]["codec"]["properties"]["id"]["enum"] = sorted(CODECS)
    return loaded


@functools.cache
def validator(name: str) -> Any:
    import jsonschema  # ~0.1 s: only for a document that fails the fast check

    return jsonschema.Draft202012Validator(schema(name))


@functools.cache
def fast_check(name: str) -> Check | None:
    # None: the schema uses a keyword the fast checker lacks; jsonschema then does it all.
    try:
        return compile_schema(schema(name))
    except UnsupportedSchema:
        return None


def schema_problem(data: Any, name: str) -> str | None:
    """``where: message`` for the first place ``data`` breaks schema ``name``, or None."""
    fast = fast_check(name)
    if fast is not None and fast(data):
        return None
    errors = sorted(
        validator(name).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))
    )
    if not errors:
        return None
    error = errors[0]
    where = ".".join(str(p) for p in error.absolute_path) or "top level"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return f"{where}: {message}"
