"""TOML from a file a clone brings (refmgr.toml, lexicon.toml): one error, never a crash."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from refmgr.errors import RefmgrError


def parse_toml(raw: bytes, path: Path, error: type[RefmgrError]) -> dict[str, Any]:
    """The table in ``raw``; every way the bytes can be bad raises ``error`` naming ``path``."""
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error("not UTF-8 text", path) from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"invalid TOML: {' '.join(str(e).split())}", path) from None
    except ValueError:  # int() of a literal over Python's 4,300-digit limit
        raise error("invalid TOML: an integer with too many digits", path) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise error("invalid TOML: arrays or tables nested too deeply", path) from None
