"""What every scorer is, and the two ways using one can fail."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol, runtime_checkable

from refmgr.errors import RefmgrError, UsageError

QA_INSTALL = "install refmgr[qa] (pip install 'refmgr[qa]' -c constraints.txt)"


class QualityUnavailable(UsageError):
    """A scorer's library is not installed, and something asked for it: exit status 2.

    Code that can go on without scores (add without --quality, render without a gate)
    asks ``available.qa_available()`` first instead of catching this."""

    def __init__(self, what: str, reason: str | None = None) -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(f"{what} is not available{detail}: {QA_INSTALL}")


class PinMismatch(RefmgrError):
    """A scorer's weight file is not the one its pin names: scores would not be comparable."""


@runtime_checkable
class Scorer(Protocol):
    """A measuring instrument. Building one is cheap; ``load`` imports and reads weights.

    ``pins`` names everything its numbers depend on (library versions, weight sha256), so
    scores recorded with other pins are known to be stale.
    """

    id: str

    def pins(self) -> dict[str, str]: ...

    def load(self) -> None: ...


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_weight(path: Path, expected_sha256: str, scorer_id: str) -> None:
    """Refuse a weight file whose content is not the pinned one, before anything loads it."""
    if not path.is_file():
        raise PinMismatch(f"weight file of scorer '{scorer_id}' is missing", path)
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise PinMismatch(
            f"weight file of scorer '{scorer_id}' does not match its pin "
            f"(sha256 {actual[:12]}…, pinned {expected_sha256[:12]}…); "
            "reinstall the pinned version of refmgr[qa]",
            path,
        )
