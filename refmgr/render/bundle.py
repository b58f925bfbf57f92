"""A shard's bundle: its shard lock and exactly the outputs that lock lists, in a folder
laid out as the repository (``DIR/renders/NAME.shard-K-of-N.lock.json``,
``DIR/renders/NAME/ID-CHARACTER.wav``), with the cached chunks of its split lines
(``DIR/renders/NAME/.chunks/KEY.wav``, see chunks.py) where they are on disk: so that the
merge job's ``renders/``, which a CI cache keeps for the next run, holds them too.

What a CI shard job uploads (``render export``) and the merge job reads (``render merge
SCRIPT DIR...``). A shard's ``renders/`` also holds the other shards' lines as the cache
had them, stale where another shard re-rendered them; only what its own lock lists
travels in its bundle, and the merge takes each output from the bundle whose lock lists
it, checked against that lock's sha256, so a stale copy can never replace a fresh one.

Bundles come from other machines: a file is read only if it is a regular file inside the
bundle (no symlink), of the size its lock records, and output paths must name a file of
the script's outputs folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.project import Project, is_real_dir
from refmgr.render.chunks import CHUNKS_DIR, MAX_CHUNK_BYTES
from refmgr.render.lockfile import dump_lock, lock_path, read_lock
from refmgr.render.output import SUFFIX, facts_of
from refmgr.render.plan import Shard

MAX_LOCK_BYTES = 64 << 20  # a lock of 100,000 lines is about 60 MB


@dataclass(frozen=True)
class Bundle:
    lock_file: Path  # where the shard lock was read
    lock: dict[str, Any]  # as read_lock checked it
    directory: Path  # the bundle's root: output paths are relative to it


def export_bundle(project: Project, name: str, shard: Shard, target: Path) -> list[str]:
    """Copy shard ``shard``'s lock of script ``name`` and every output it lists into the new
    or empty folder ``target``; return the paths written, relative to ``target``."""
    source = lock_path(project, name, shard)
    lock = read_lock(source)
    if lock is None:
        raise RefmgrError(f"no lock of shard {shard}: render it with --shard {shard} first", source)
    if lock.get("shard") != {"index": shard.index, "count": shard.count}:
        raise RefmgrError(f"not the lock of shard {shard}", source)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RefmgrError("exists and is not an empty folder: export into a new one", target)
    if target.resolve().is_relative_to(project.renders_dir.resolve()):
        raise RefmgrError(f"is inside {project.config.paths.renders}/: export elsewhere", target)
    files: dict[str, bytes] = {}
    for entry in lock["entries"]:
        path = _output_path(project, name, entry["output"]["path"], source)
        data = _read_output(project.root, path, entry, source)
        if data is None:
            raise RefmgrError(
                "listed by its shard lock but missing, or changed since: render the shard again",
                project.root / path,
            )
        files[path] = data
    files |= _chunks(project, name, project.root, lock["entries"])
    files[project.relative(source)] = dump_lock(lock)
    _write_all(target, files)
    return sorted(files)


def read_bundles(project: Project, name: str, source: str, folders: list[Path]) -> list[Bundle]:
    """The shard locks of script ``name`` (whose ``script_path`` is ``source``) in each of
    ``folders``, each a bundle made by ``export_bundle``."""
    bundles = []
    renders = PurePosixPath(project.config.paths.renders)
    for folder in folders:
        if not folder.is_dir():
            raise RefmgrError("no such folder (a shard's bundle, made by render export)", folder)
        found = sorted((folder / renders).glob(f"{name}.shard-*-of-*.lock.json"))
        if not found:
            raise RefmgrError(
                f"holds no {renders}/{name}.shard-K-of-N.lock.json: not a bundle of '{name}' "
                "made by render export",
                folder,
            )
        for lock_file in found:
            _check_file(folder, lock_file, None)
            lock = read_lock(lock_file)
            assert lock is not None
            owner = lock.get("script_path")
            if owner is not None and owner != source:
                raise RefmgrError(f"belongs to another script, {owner}", lock_file)
            bundles.append(Bundle(lock_file, lock, folder))
    return bundles


def bring_outputs(project: Project, name: str, bundles: list[Bundle]) -> list[str]:
    """Check every output the bundles' locks list against its sha256, then copy into the
    repository those whose file there is absent or different (a stale copy); return them."""
    wanted: dict[str, bytes] = {}
    for bundle in bundles:
        for entry in bundle.lock["entries"]:
            path = _output_path(project, name, entry["output"]["path"], bundle.lock_file)
            data = _read_output(bundle.directory, path, entry, bundle.lock_file)
            if data is None:
                raise RefmgrError(
                    "listed by the bundle's shard lock but missing, or not the file it "
                    "records: export the shard again",
                    bundle.directory / path,
                )
            if _read_output(project.root, path, entry, None) is None:
                wanted[path] = data
    chunks: dict[str, bytes] = {}
    for bundle in bundles:
        chunks |= _chunks(project, name, bundle.directory, bundle.lock["entries"])
    folder = project.renders_dir / name / CHUNKS_DIR
    if not folder.exists() or is_real_dir(project.root, folder):  # else the next render fixes it
        for path, data in chunks.items():
            sha256 = hashlib.sha256(data).hexdigest()
            if _read_chunk(project.root, project.root / path, sha256) is None:
                wanted[path] = data
    _write_all(project.root, wanted)
    return sorted(wanted)


def _chunks(
    project: Project, name: str, root: Path, entries: Iterable[Mapping[str, Any]]
) -> dict[str, bytes]:
    """The cached chunks of the split lines in ``entries`` that are under ``root`` as the
    lock records them (by path). A cache: a chunk absent, or not a regular file of the
    recorded sha256, is left out, never an error."""
    folder = project.renders_dir / name / CHUNKS_DIR
    if not is_real_dir(root, root / folder.relative_to(project.root)):
        return {}
    found = {}
    for entry in entries:
        for chunk in entry.get("chunks") or ():
            # The lock's schema makes key and sha256 64 hex digits: a file name, no path.
            path = f"{project.relative(folder)}/{chunk['key']}.wav"
            data = _read_chunk(root, root / path, chunk["sha256"])
            if data is not None:
                found[path] = data
    return found


def _read_chunk(root: Path, file: Path, sha256: str) -> bytes | None:
    try:
        st = os.lstat(file)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CHUNK_BYTES:
            return None
        if not file.resolve().is_relative_to(root.resolve()):
            return None
        data = file.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def _write_all(base: Path, files: dict[str, bytes]) -> None:
    """Write each file (a '/'-separated path below ``base``) atomically."""
    for relative, data in files.items():
        target = base / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, data)
        except OSError as e:
            raise RefmgrError(f"cannot write: {e.strerror}", target) from None


def _output_path(project: Project, name: str, path: str, lock_file: Path) -> str:
    """``path`` if it names a file of the script's outputs folder, as refmgr writes them."""
    folder = f"{project.config.paths.renders}/{name}/"
    file = path.removeprefix(folder)
    if (
        not path.startswith(folder)
        or not file.endswith(SUFFIX)
        or file.startswith(".")
        or "/" in file
        or "\\" in file
    ):
        raise RefmgrError(f"output path '{path}' is not a file of {folder}", lock_file)
    return path


def _read_output(
    root: Path, path: str, entry: Mapping[str, Any], lock_file: Path | None
) -> bytes | None:
    """The bytes of output ``path`` under ``root`` if it is the whole output ``entry``
    records (size, sha256, key); None if absent or another file."""
    output = entry["output"]
    file = root / path
    try:
        if not _check_file(root, file, output["bytes"], quiet=lock_file is None):
            return None
        data = file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RefmgrError(f"cannot read: {e.strerror}", file) from None
    if hashlib.sha256(data).hexdigest() != output["sha256"]:
        return None
    facts = facts_of(data)
    return data if facts is not None and facts.key == entry["key"] else None


def _check_file(root: Path, file: Path, size: int | None, *, quiet: bool = False) -> bool:
    """Whether ``file`` is a regular file inside ``root`` (no symlink on the way) of
    ``size`` bytes (at most MAX_LOCK_BYTES when None). Refuses anything else, unless
    ``quiet``: then it is only not the file wanted."""
    st = os.lstat(file)
    inside = file.resolve().is_relative_to(root.resolve())
    if stat.S_ISREG(st.st_mode) and inside:
        if size is None and st.st_size <= MAX_LOCK_BYTES:
            return True
        if size is not None and st.st_size == size:
            return True
    if quiet:
        return False
    if not stat.S_ISREG(st.st_mode) or not inside:
        raise RefmgrError("not a regular file of the bundle (a symlink?)", file)
    if size is None:
        raise RefmgrError(f"larger than {MAX_LOCK_BYTES >> 20} MiB: not a render lock", file)
    return False
