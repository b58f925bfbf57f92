"""refmgr status: like git status, for voices.

Per reference: not yet committed, changed (tokens and manifest together, or one without
the other), removed; orphans; stale pins; per codec, the pinned and installed library
versions; and what keeps git from working for the repository: files git ignores, a diff
driver missing (a fresh clone) or stale (its Python gone). Informational, like git status:
``refmgr validate`` is the check that fails.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refmgr import diffdriver, gitrepo
from refmgr.backends.registry import codec_spec
from refmgr.config import CONFIG_FILE, Config
from refmgr.errors import GitError, ManifestError
from refmgr.manifest import MAX_MANIFEST_BYTES, Manifest, parse_manifest
from refmgr.pins import stale_pins
from refmgr.project import STATE_DIR, Project
from refmgr.snapshot import TooLarge, WorkTree
from refmgr.store import JOURNAL, RECOVER_HINT, pending
from refmgr.validate import Layout, layout
from refmgr.versions import installed_version

# Categories, in the order they are shown.
NEW, CHANGED, PROBLEM = "not yet committed", "changed", "problem"
CATEGORIES = (NEW, CHANGED, PROBLEM)


@dataclass(frozen=True)
class Entry:
    name: str
    category: str  # one of CATEGORIES
    state: str  # short machine-readable state
    detail: str


@dataclass(frozen=True)
class PinState:
    codec: str
    library: str
    pinned: str | None
    installed: str | None
    references: int


@dataclass(frozen=True)
class GitWarning:
    state: str  # ignored, diff-driver-missing, diff-driver-stale
    detail: str  # what is wrong and what to run


@dataclass
class RepoStatus:
    references: int = 0
    git: bool = True
    entries: list[Entry] = field(default_factory=list)
    pins: list[PinState] = field(default_factory=list)
    warnings: list[GitWarning] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def repository_status(project: Project) -> RepoStatus:
    config = project.config
    tree = WorkTree(project.root)
    where = layout(tree, config)
    status = RepoStatus(references=len(where.manifests))
    try:
        codes = gitrepo.status_codes(project.root, [config.paths.refs, config.paths.manifests])
    except GitError:  # not a git repository, or no git: everything else still applies
        codes, status.git = {}, False
    if status.git:
        status.warnings = _git_warnings(project.root, where)
    names = set(where.names)
    for path in codes:  # deleted files are in git's listing only
        for directory, suffix in ((config.paths.refs, ".npy"), (config.paths.manifests, ".json")):
            name = _name_of(path, directory, suffix)
            if name is not None:
                names.add(name)
    used: dict[str, int] = {}
    for name in sorted(names):
        m_path = f"{config.paths.manifests}/{name}.json"
        t_path = f"{config.paths.refs}/{name}.npy"
        if status.git:
            status.entries += _git_entries(name, m_path, t_path, codes, tree)
        status.entries += _pair_entries(name, m_path, t_path, where.manifests, where.tokens)
        if name in where.manifests:
            manifest = _manifest(tree, m_path)
            if isinstance(manifest, str):
                status.entries.append(
                    Entry(name, PROBLEM, "invalid", f"{m_path}: {manifest} (see refmgr validate)")
                )
                continue
            used[manifest.codec_id] = used.get(manifest.codec_id, 0) + 1
            for stale in stale_pins(manifest, config):
                status.entries.append(Entry(name, PROBLEM, "stale-pin", f"{m_path}: {stale}"))
    status.pins = _pin_states(config, used)
    if pending(project):
        status.entries.append(Entry(f"{STATE_DIR}/{JOURNAL}", PROBLEM, "interrupted", RECOVER_HINT))
    order = {c: i for i, c in enumerate(CATEGORIES)}
    status.entries.sort(key=lambda e: (order[e.category], e.name, e.state))
    return status


def _git_warnings(root: Path, where: Layout) -> list[GitWarning]:
    found: list[GitWarning] = []
    # Inside another checkout's ignored folder, git status lists nothing here: every file
    # would look committed when none can be.
    files = [CONFIG_FILE, *where.tokens.values(), *where.manifests.values()]
    ignored = gitrepo.ignored(root, files)
    if ignored:
        shown = ", ".join(list(ignored)[:3]) + (
            f" and {len(ignored) - 3} more" if len(ignored) > 3 else ""
        )
        rule = next(iter(ignored.values()))
        found.append(
            GitWarning(
                "ignored",
                f"git ignores {shown} ({rule}, in the git repository at "
                f"{gitrepo.toplevel(root)}): they cannot be committed; stop ignoring them, or, "
                "inside another checkout's ignored folder, make this directory a git "
                "repository of its own (git init, then refmgr init)",
            )
        )
    # Ignored as a whole, the fix is a git repository of its own; its driver comes with it.
    driver = None if CONFIG_FILE in ignored else diffdriver.problem(root)
    if driver is not None:
        found.append(GitWarning(*driver))
    return found


def _pin_states(config: Config, used: dict[str, int]) -> list[PinState]:
    """Every codec in use or pinned: pinned and installed library versions."""
    states = []
    for codec_id in sorted(used.keys() | config.codecs.pins.keys()):
        library = codec_spec(codec_id).distribution
        pin = config.codecs.pins.get(codec_id)
        states.append(
            PinState(
                codec=codec_id,
                library=library,
                pinned=pin.library_version if pin else None,
                installed=installed_version(library),
                references=used.get(codec_id, 0),
            )
        )
    return states


def _name_of(path: str, directory: str, suffix: str) -> str | None:
    rest = path[len(directory) + 1 :] if path.startswith(directory + "/") else ""
    if rest.endswith(suffix) and "/" not in rest and len(rest) > len(suffix):
        return rest[: -len(suffix)]
    return None


def _file_state(code: str | None, exists: bool) -> str:
    """clean, absent, untracked, added (not in HEAD), deleted or modified."""
    if code is None:
        return "clean" if exists else "absent"
    if code == "??":
        return "untracked"
    if code[0] == "A":
        return "added"
    if "D" in code:
        return "deleted"
    return "modified"


def _git_entries(
    name: str, m_path: str, t_path: str, codes: dict[str, str], tree: WorkTree
) -> list[Entry]:
    m = _file_state(codes.get(m_path), tree.kind(m_path) is not None)
    t = _file_state(codes.get(t_path), tree.kind(t_path) is not None)
    entries: list[Entry] = []
    new = [
        f"{path} ({'staged' if state == 'added' else 'untracked'})"
        for path, state in ((t_path, t), (m_path, m))
        if state in ("untracked", "added")
    ]
    if new:
        entries.append(Entry(name, NEW, "new", ", ".join(new)))
    if m == "deleted" and t == "deleted":
        entries.append(Entry(name, CHANGED, "removed", f"{t_path} and {m_path} deleted"))
    elif m == "modified" and t == "modified":
        entries.append(Entry(name, CHANGED, "modified", f"{t_path} and {m_path} changed"))
    elif t in ("modified", "deleted") and m == "clean":
        entries.append(
            Entry(
                name,
                PROBLEM,
                "tokens-without-manifest",
                f"{t_path} {t} but {m_path} unchanged: re-encode with refmgr add --force, "
                f"or restore it with git restore --staged --worktree {t_path}",
            )
        )
    elif m in ("modified", "deleted") and t == "clean":
        entries.append(
            Entry(
                name,
                CHANGED,
                "manifest-without-tokens",
                f"{m_path} {m} but {t_path} unchanged (fine for a transcript fix)",
            )
        )
    return entries


def _pair_entries(
    name: str, m_path: str, t_path: str, manifests: dict[str, str], tokens: dict[str, str]
) -> list[Entry]:
    if name in tokens and name not in manifests:
        return [Entry(name, PROBLEM, "orphan-tokens", f"{t_path} has no manifest ({m_path})")]
    if name in manifests and name not in tokens:
        return [
            Entry(name, PROBLEM, "missing-tokens", f"{m_path} names {t_path}, which is missing")
        ]
    return []


def _manifest(tree: WorkTree, path: str) -> Manifest | str:
    try:
        return parse_manifest(tree.read(path, MAX_MANIFEST_BYTES), Path(path))
    except ManifestError as e:
        return e.message
    except TooLarge:
        return f"over {MAX_MANIFEST_BYTES} bytes"
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
