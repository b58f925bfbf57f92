"""refmgr recover: finish a change that an interrupted refmgr left, remove its temporaries.

Every writing command does this first (``store.open_for_writing``); this command does only
that, for a user who sees the pending change in ``status`` or ``validate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refmgr.project import open_project
from refmgr.store import pending, recover_if_needed


@dataclass(frozen=True)
class RecoverResult:
    finished: bool  # a journaled change was finished (else only temporaries, if any, went)

    def to_json(self) -> dict[str, Any]:
        return {"finished": self.finished}


def recover_repository(start: Path | None = None) -> RecoverResult:
    project = open_project(start)
    finished = pending(project)
    recover_if_needed(project)
    return RecoverResult(finished=finished)
