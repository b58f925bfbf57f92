"""refmgr hooks install / uninstall: refmgr's plain git hooks, for users without pre-commit.

A hook refmgr did not write is never replaced silently: ``install`` refuses, and with
``--force`` moves it aside (NAME.refmgr-saved) for ``uninstall`` to put back.
``uninstall`` removes only hooks that carry refmgr's marker line.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from refmgr import gitrepo
from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write

HOOK_NAMES = ("pre-commit",)
MARKER = "# refmgr-hook: plain-git-v1"
SAVED_SUFFIX = ".refmgr-saved"


@dataclass(frozen=True)
class HookChange:
    path: Path
    action: str  # installed, updated, unchanged, replaced, removed, restored, left, absent
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "action": self.action, "detail": self.detail}


def hook_text(name: str) -> str:
    """The hook as shipped: runs the refmgr on PATH from the top of the work tree."""
    return resources.files("refmgr").joinpath(f"githooks/{name}").read_text("utf-8")


def rendered_hook(name: str, *, python: str, directory: str) -> str:
    """The hook with the interpreter and the voice repository's directory filled in."""
    text = hook_text(name)
    text = text.replace("\nREFMGR_PYTHON=''\n", f"\nREFMGR_PYTHON={shlex.quote(python)}\n", 1)
    return text.replace("\nREFMGR_DIR='.'\n", f"\nREFMGR_DIR={shlex.quote(directory)}\n", 1)


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return False


def _hooks_dir(root: Path) -> tuple[Path, str]:
    if not gitrepo.is_git_repo(root):
        raise RefmgrError("not in a git repository: run git init first", root)
    directory = gitrepo.show_prefix(root).rstrip("/") or "."
    return gitrepo.git_path(root, "hooks"), directory


def install_hooks(root: Path, *, force: bool = False) -> list[HookChange]:
    """Install every hook; check them all before writing any (one refusal changes nothing)."""
    hooks_dir, directory = _hooks_dir(root)
    plan: list[tuple[str, Path, bool]] = []  # name, path, foreign hook to move aside
    for name in HOOK_NAMES:
        path = hooks_dir / name
        foreign = (path.exists() or path.is_symlink()) and not is_ours(path)
        if foreign and not force:
            raise RefmgrError(
                "a hook that refmgr did not write is installed here: keep it, or replace it "
                f"with refmgr hooks install --force (it is kept as {name}{SAVED_SUFFIX})",
                path,
            )
        saved = path.with_name(name + SAVED_SUFFIX)
        if foreign and (saved.exists() or saved.is_symlink()):
            raise RefmgrError(
                f"cannot set the existing hook aside: {saved.name} already exists; move it first",
                path,
            )
        plan.append((name, path, foreign))
    changes: list[HookChange] = []
    hooks_dir.mkdir(parents=True, exist_ok=True)
    for name, path, foreign in plan:
        text = rendered_hook(name, python=sys.executable, directory=directory)
        if foreign:
            saved = path.with_name(name + SAVED_SUFFIX)
            os.replace(path, saved)
            action, detail = "replaced", f"the previous hook is kept as {saved.name}"
        elif path.exists():
            unchanged = path.read_text("utf-8", errors="replace") == text
            action, detail = ("unchanged" if unchanged else "updated"), ""
        else:
            action, detail = "installed", ""
        atomic_write(path, text.encode(), mode=0o755)
        changes.append(HookChange(path, action, detail))
    return changes


def uninstall_hooks(root: Path) -> list[HookChange]:
    hooks_dir, _ = _hooks_dir(root)
    changes: list[HookChange] = []
    for name in HOOK_NAMES:
        path = hooks_dir / name
        saved = path.with_name(name + SAVED_SUFFIX)
        if not (path.exists() or path.is_symlink()):
            changes.append(HookChange(path, "absent", "not installed"))
        elif not is_ours(path):
            changes.append(HookChange(path, "left", "not written by refmgr: left as it is"))
        else:
            path.unlink()
            if saved.exists():
                os.replace(saved, path)
                changes.append(HookChange(path, "restored", f"put back {saved.name}"))
            else:
                changes.append(HookChange(path, "removed"))
    return changes
