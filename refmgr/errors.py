"""One root error; every failure a user can cause is a subclass of it.

The CLI prints ``str(error)`` (``path: problem``) and exits 1. Anything that is not a
RefmgrError is a bug: exit 3, traceback in the log file.
"""

from __future__ import annotations

import os
from pathlib import Path


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as the user should read it: relative to the working directory when below it."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return p.as_posix()


class RefmgrError(Exception):
    """A problem with the user's input or data: reported as ``path: problem``, exit status 1."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else Path(path)

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        return f"{display_path(self.path)}: {self.message}"


class UsageError(RefmgrError):
    """The command was called wrongly (options that do not go together, nothing to do):
    exit status 2, like a usage error Click finds."""


class ConfigError(RefmgrError):
    """refmgr.toml is missing, unreadable or invalid."""


class ProjectNotFoundError(RefmgrError):
    """The working directory is not inside a voice repository."""


class AudioError(RefmgrError):
    """A recording cannot be read or fails a quality check."""


class TokenFileError(RefmgrError):
    """A token file (.npy) is malformed, unsafe or does not match its manifest."""


class ManifestError(RefmgrError):
    """A manifest is malformed or fails its schema."""


class RefError(RefmgrError):
    """A reference name is invalid, unknown or already taken."""


class BackendError(RefmgrError):
    """A codec or engine is unknown, not installed, or failed."""


class LockError(RefmgrError):
    """Another refmgr process holds the repository lock for too long."""


class GitError(RefmgrError):
    """A git operation failed."""
