"""Whether the QA extra is installed, asked without importing any of it (find_spec only)."""

from __future__ import annotations

import functools
import importlib.util

# The import names the scorers need (the distributions are in pyproject's `qa` extra).
QA_MODULES = ("resemblyzer", "speechmos", "onnxruntime", "pyloudnorm", "webrtcvad", "torch")


def missing_modules() -> list[str]:
    return [name for name in QA_MODULES if not _found(name)]


@functools.cache
def _found(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def qa_available() -> bool:
    return not missing_modules()
