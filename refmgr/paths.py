"""Where refmgr keeps per-user files (crash log, checkpoint locations, digest cache), outside any repository."""

from __future__ import annotations

import os
from pathlib import Path


def user_state_dir() -> Path:
    explicit = os.environ.get("REFMGR_HOME")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "refmgr"


def log_path() -> Path:
    return user_state_dir() / "refmgr.log"


def user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "refmgr"


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "refmgr"
