"""Helpers for render tests: render in-process, read outputs, check a lock against the disk."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from refmgr.commands.render import RenderOptions, RenderResult, render_script
from refmgr.project import open_project
from refmgr.render.output import facts_of
from refmgr.render.plan import cache_key, key_document


def render(root: Path, script: str = "ep.txt", **options: Any) -> RenderResult:
    return render_script(open_project(root), root / script, options=RenderOptions(**options))


def rendered(result: RenderResult) -> list[str]:
    return [s.line.label for s in result.run.rendered]


def outputs(root: Path, name: str = "ep") -> dict[str, bytes]:
    # Files only: a folder there is the chunk cache of split lines (render/chunks.py).
    folder = root / "renders" / name
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.is_dir()}


def read_lock(root: Path, name: str = "ep") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "renders" / f"{name}.lock.json").read_text())
    return data


def check_lock(root: Path, name: str = "ep") -> dict[str, Any]:
    """The lock, after checking that it only lists what is really on disk: every entry's
    file exists, has the recorded sha256, carries the entry's key, and the key is the hash
    of the entry's inputs."""
    lock = read_lock(root, name)
    for entry in lock["entries"]:
        data = (root / entry["output"]["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["output"]["sha256"], entry["id"]
        facts = facts_of(data)
        assert facts is not None and facts.key == entry["key"], entry["id"]
        document = key_document(
            engine_id=lock["engine"]["id"],
            pins=lock["engine"]["pins"],
            reference=lock["references"][entry["character"]]["inputs"],
            text=entry["text"],
            params=entry["params"],
            lexicon=entry.get("lexicon"),
            chunking=entry.get("chunking"),
        )
        assert cache_key(document) == entry["key"], entry["id"]
    listed = len(lock["entries"]) + len(lock["missing"])
    assert listed == lock["lines"] or "shard" in lock
    return lock


def whole_outputs(root: Path, name: str = "ep") -> None:
    """Every file in the outputs folder is a complete refmgr output (no temporaries)."""
    for path in (root / "renders" / name).iterdir():
        if path.is_dir():
            continue  # the chunk cache (render/chunks.py)
        assert not path.name.startswith("."), f"temporary left behind: {path.name}"
        assert facts_of(path.read_bytes()) is not None, f"not a whole output: {path.name}"


PARTS = (
    "the keeper climbed the narrow stairs",
    "a gull cried over the grey water",
    "the lamp turned slowly in its brass cage",
    "far out a fishing boat rolled in the swell",
    "the wind pulled at the shutters of the house",
    "somebody sang an old song down by the pier",
)


def long_text(chars: int = 3000, edited: int | None = None) -> str:
    """Sentences of 200-odd characters (each a chunk of its own with the draft engine);
    ``edited``: the sentence of that index (from 0) opens with other words."""
    sentences: list[str] = []
    while sum(len(s) + 1 for s in sentences) < chars:
        i = len(sentences)
        words = [PARTS[(i + k) % len(PARTS)] for k in range(5)]
        opening = "Then, in part" if i == edited else "In part"
        sentences.append(f"{opening} {i + 1}, " + ", and ".join(words) + ".")
    return " ".join(sentences)


def chunk_files(root: Path, name: str = "ep") -> dict[str, int]:
    """The chunk cache: file name -> inode (a chunk written again gets a new one)."""
    folder = root / "renders" / name / ".chunks"
    return {p.name: p.stat().st_ino for p in folder.iterdir()} if folder.is_dir() else {}


def start_render(root: Path, script: str, *args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    """``refmgr render SCRIPT ARGS`` in a process of its own, to be stopped mid-way."""
    return subprocess.Popen(
        [sys.executable, "-m", "refmgr", "render", script, *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


def wait_for_outputs(
    root: Path, name: str, n: int, proc: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    """Until script ``name`` has ``n`` outputs on disk, while ``proc`` still runs."""
    folder = root / "renders" / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir() and len(list(folder.glob("*.wav"))) >= n:
            return
        assert proc.poll() is None, proc.communicate()[1].decode()
        time.sleep(0.005)
    raise AssertionError("no outputs appeared")
