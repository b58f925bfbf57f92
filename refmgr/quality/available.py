"""Whether the QA extra is installed, asked without importing any of it (find_spec only)."""

from __future__ import annotations

import functools
import importlib.util
import os

from refmgr.errors import UsageError

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


# REFMGR_QUALITY: what `refmgr add` does when neither --quality nor --no-quality is given.
ENV = "REFMGR_QUALITY"
_ENV_VALUES: dict[str, bool | None] = {
    "": None,
    "auto": None,  # measure when refmgr[qa] is installed
    "on": True,
    "1": True,
    "off": False,
    "0": False,
}


def quality_from_env() -> bool | None:
    """REFMGR_QUALITY as a --quality/--no-quality default: True, False or None (auto)."""
    value = os.environ.get(ENV, "").strip().lower()
    if value not in _ENV_VALUES:
        raise UsageError(f"{ENV} must be auto, on or off, not {value!r}")
    return _ENV_VALUES[value]
