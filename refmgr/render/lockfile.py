"""renders/SCRIPT.lock.json: what every rendered line was made from, and what it is.

The lock is rebuilt from the plan and the output files each time, never patched: it holds
an entry for each line whose output file is there and carries the line's key, and lists
the others as ``missing``. It holds nothing about when or where it was made, so one render
and the merge of its shards write the same bytes; nor any git commit id (an amend or a
rebase would change the lock of a render that changed nothing): a reference is recorded by
its content hashes, which is what decides the sound and what its manifest in git says. Layout (canonical JSON)::

    {"lock_version": 1, "script": "episode", "script_path": "scripts/episode.txt",
     "lines": 12, "plan_sha256": ...,
     "engine": {"id", "draft", "pins"},
     "references": {NAME: {"inputs": {codec, tokens_sha256, ...}}},
     "entries": [{"index", "id", "character", "text", "params", "key",
                  "output": {"path", "sha256", "bytes", "duration_s", "sample_rate"},
                  "take": {"take", "seed"},               (only a retake: see takes.py)
                  "quality": {"score_key", "scores", "takes"},   (only when scored)
                  "chunking": {"splitter", "max_chars", "pause_ms"},  (only a split line)
                  "chunks": [{"text", "key", "sha256", "offset", "samples"}]}],  (ditto)
     "scorers": {"pins"},                                  (only when a line is scored)
     "missing": [{"index", "id", "character", "output"}]}

An entry's key is ``cache_key(key_document(engine, references[character].inputs, text,
params, lexicon, chunking))``, so anyone can check it; ``take`` says that the output is not the line's first
take but the retake with that number and seed, which a later render synthesizes directly.
``quality`` holds the scores of the output (scoring.py), keyed by what they depend on, and
``takes`` the scores of every take tried when there was more than one. A line split into
chunks (chunks.py) has ``chunking`` in its key and lists its chunks: each one's text, key,
the sha256 of its cached file and where it starts in the output (``offset``, in samples;
the chunks are joined with ``pause_ms`` of silence). ``script_path`` is the script the lock belongs to
(relative to the repository root, or only its file name for a script outside it): scripts
share ``renders/NAME/`` by file name, so a render, merge or mix of another script with the
same name is refused rather than allowed to replace this one's outputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from refmgr.errors import RefmgrError
from refmgr.fsutil import atomic_write, remove_temporaries
from refmgr.jsondoc import schema_problem
from refmgr.project import Project
from refmgr.render.output import ChunkFacts, OutputFacts
from refmgr.render.plan import Plan, Recorded, Shard, Step, key_document, output_of
from refmgr.render.script import SHARD_MARK
from refmgr.render.takes import LineQuality

LOCK_VERSION = 1


def lock_path(project: Project, script_name: str, shard: Shard | None = None) -> Path:
    if shard is None:
        return project.renders_dir / f"{script_name}.lock.json"
    return (
        project.renders_dir / f"{script_name}{SHARD_MARK}{shard.index}-of-{shard.count}.lock.json"
    )


def shard_lock_paths(project: Project, script_name: str) -> list[Path]:
    return sorted(project.renders_dir.glob(f"{script_name}{SHARD_MARK}*-of-*.lock.json"))


def check_owner(project: Project, name: str, source: str, script: Path) -> None:
    """Refuse a script whose lock or shard locks (renders/NAME.*) belong to another script
    of the same file name: rendering one would remove the other's outputs.

    A lock that does not say (older, or unreadable) is taken over by the next render."""
    for path in [lock_path(project, name), *shard_lock_paths(project, name)]:
        owner = _owner(path)
        if owner is not None and owner != source:
            raise RefmgrError(
                f"{project.relative(path)} belongs to another script, {owner}; scripts with the "
                f"same file name would share {project.config.paths.renders}/{name}/: rename "
                "this script",
                script,
            )


def _owner(path: Path) -> str | None:
    try:
        lock = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None
    owner = lock.get("script_path") if isinstance(lock, dict) else None
    return owner if isinstance(owner, str) else None


def build_lock(
    plan: Plan,
    facts: Mapping[str, OutputFacts],
    quality: Mapping[str, LineQuality] | None = None,
    scorer_pins: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The lock of ``plan`` given the outputs now on disk (``facts``, by path) and the
    scores of those outputs (``quality``, by path, with the pins of the scorers)."""
    entries, missing = [], []
    scored = False
    references: dict[str, Any] = {}
    for step in plan.selected():
        have = output_of(step, facts)
        if have is None:
            missing.append(_where(step))
            continue
        character = step.line.character
        if character not in references:
            references[character] = {"inputs": plan.cast.members[character].key_inputs()}
        assert step.params is not None
        entry: dict[str, Any] = {
            # the lexicon.toml entries in the key, where any match
            **({"lexicon": step.lexicon} if step.lexicon else {}),
            **_where(step),
            "text": step.line.text,
            "params": {k: getattr(step.params, k) for k in step.params.__dataclass_fields__},
            "key": step.key,
            "output": {
                "path": step.output,
                "sha256": have.sha256,
                "bytes": have.bytes,
                "duration_s": have.duration_s,
                "sample_rate": have.sample_rate,
            },
        }
        if step.chunking is not None:
            entry["chunking"] = step.chunking
            if have.chunks:
                entry["chunks"] = _chunks(step, have)
        if have.take > 1 and have.take_seed is not None:
            entry["take"] = {"take": have.take, "seed": have.take_seed}
        line_quality = (quality or {}).get(step.output)
        if line_quality is not None and line_quality.sha256 == have.sha256:
            entry["quality"] = line_quality.as_json()
            scored = True
        entries.append(entry)
    lock: dict[str, Any] = {
        "lock_version": LOCK_VERSION,
        "script": plan.script.name,
        "script_path": plan.script.source,
        "lines": len(plan.steps),
        "plan_sha256": plan.plan_sha256,
        "engine": {"id": plan.engine.id, "draft": plan.engine.draft, "pins": plan.pins},
        "references": references,
        "entries": entries,
        "missing": missing,
    }
    if plan.shard is not None:
        lock["shard"] = {"index": plan.shard.index, "count": plan.shard.count}
    if scored and scorer_pins is not None:
        lock["scorers"] = {"pins": dict(scorer_pins)}
    return lock


def _chunks(step: Step, have: OutputFacts) -> list[dict[str, Any]]:
    """The chunks of a split line's output, as its file lists them, with their texts."""
    assert step.chunking is not None
    texts = [c.text for c in step.chunks]
    if len(texts) != len(have.chunks):
        texts = [""] * len(have.chunks)  # not split as this plan splits it: never for its key
    pause = round(have.sample_rate * int(step.chunking["pause_ms"]) / 1000)
    listed, offset = [], 0
    for text, chunk in zip(texts, have.chunks, strict=True):
        listed.append(
            {
                "text": text,
                "key": chunk.key,
                "sha256": chunk.sha256,
                "offset": offset,
                "samples": chunk.samples,
            }
        )
        offset += chunk.samples + pause
    return listed


def _where(step: Step) -> dict[str, Any]:
    # No script line number: a comment added at the top must not touch every entry.
    return {
        "index": step.line.index,
        "id": step.line.label,
        "character": step.line.character,
        "output": step.output,
    }


def dump_lock(lock: Mapping[str, Any]) -> bytes:
    """Canonical text: sorted keys; each item of a top-level table or list on a line of its
    own, so that a diff of the lock shows one changed line per changed script line."""

    def compact(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))

    fields = []
    for key in sorted(lock):
        value = lock[key]
        if isinstance(value, list) and value:
            items = [f"    {compact(item)}" for item in value]
            text = "[\n" + ",\n".join(items) + "\n  ]"
        elif isinstance(value, dict) and value:
            items = [f"    {compact(k)}: {compact(value[k])}" for k in sorted(value)]
            text = "{\n" + ",\n".join(items) + "\n  }"
        else:
            text = compact(value)
        fields.append(f"  {compact(key)}: {text}")
    return ("{\n" + ",\n".join(fields) + "\n}\n").encode("utf-8")


def write_lock(path: Path, lock: Mapping[str, Any]) -> bool:
    """Write the lock atomically unless the file already holds it; True if written."""
    data = dump_lock(lock)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(path)  # of a write killed midway; callers hold the render lock
    try:
        atomic_write(path, data)
    except OSError as e:
        raise RefmgrError(f"cannot write the lock: {e.strerror}", path) from None
    return True


def read_lock(path: Path) -> dict[str, Any] | None:
    """The lock at ``path``; None if there is none. Raises RefmgrError if it is not a lock."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RefmgrError(f"cannot read the lock: {e.strerror}", path) from None
    return parse_lock(raw, path)


def parse_lock(raw: bytes, path: Path) -> dict[str, Any]:
    """The lock in ``raw`` (a file's bytes, or a git revision's: ``path`` names it in
    errors). Raises RefmgrError if it is not a lock."""
    try:
        lock = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RefmgrError(f"not a render lock (invalid JSON: {e})", path) from None
    except RecursionError:  # json recurses once per nested array or object
        raise RefmgrError("not a render lock (nested too deeply)", path) from None
    if re.search(rb"\\u[dD][89a-fA-F]", raw):
        try:  # escaped surrogates: a pair is a character, a lone one is not text
            json.dumps(lock, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise RefmgrError(
                "not a render lock (a lone surrogate: not Unicode text)", path
            ) from None
    if not isinstance(lock, dict) or lock.get("lock_version") != LOCK_VERSION:
        raise RefmgrError(f"not a render lock of version {LOCK_VERSION}", path)
    # The schema (schemas/lock.v1.json) makes everything after this safe to index.
    problem = schema_problem(lock, "lock")
    if problem is None:
        problem = next(
            (
                f"entries.{i}.character '{e['character']}' is not in 'references'"
                for i, e in enumerate(lock["entries"])
                if e["character"] not in lock["references"]
            ),
            None,
        )
    if problem is not None:
        raise RefmgrError(f"not a render lock: {problem}", path)
    return lock


def recorded_outputs(lock: Mapping[str, Any]) -> dict[str, Recorded]:
    """What a lock (as read_lock checked it) records of each output, by path: its key
    document and sha256."""
    recorded = {}
    engine = lock["engine"]
    scorers = lock.get("scorers")
    for entry in lock["entries"]:
        document = key_document(
            engine_id=engine["id"],
            pins=engine["pins"],
            reference=lock["references"][entry["character"]]["inputs"],
            text=entry["text"],
            params=entry["params"],
            lexicon=entry.get("lexicon") if isinstance(entry.get("lexicon"), dict) else None,
            chunking=entry.get("chunking"),
        )
        output = entry["output"]
        take = entry.get("take")
        recorded[output["path"]] = Recorded(
            document,
            output["sha256"],
            take=None if take is None else (take["take"], take["seed"]),
            quality=LineQuality.from_json(entry.get("quality"), output["sha256"]),
            scorer_pins=scorers["pins"] if scorers is not None else None,
            chunks=tuple(
                ChunkFacts(c["key"], c["sha256"], c["samples"]) for c in entry.get("chunks", [])
            ),
        )
    return recorded


def merge_locks(locks: Iterable[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any]:
    """The lock one whole render would have written, from the locks of all its shards."""
    shards = list(locks)
    if not shards:
        raise RefmgrError("no shard locks to merge")
    first_path, first = shards[0]
    shared = ("script", "script_path", "lines", "plan_sha256", "engine")
    count = _shard_of(first_path, first)[1]
    seen: dict[int, Path] = {}
    references: dict[str, Any] = {}
    scorers: dict[str, Any] | None = None
    entries: list[Any] = []
    missing: list[Any] = []
    for path, lock in shards:
        index, n = _shard_of(path, lock)
        if n != count:
            raise RefmgrError(f"shard {index}/{n} does not belong with {first_path.name}", path)
        if index in seen:
            raise RefmgrError(f"shard {index}/{n} given twice (also {seen[index].name})", path)
        seen[index] = path
        for field in shared:
            if lock.get(field) != first.get(field):
                raise RefmgrError(
                    f"'{field}' differs from {first_path.name}: the shards rendered different "
                    "scripts, references or engines; render them again from one commit",
                    path,
                )
        for name, ref in lock["references"].items():
            if references.setdefault(name, ref) != ref:
                raise RefmgrError(f"reference '{name}' differs between shards", path)
        if "scorers" in lock:
            if scorers is not None and lock["scorers"] != scorers:
                raise RefmgrError(
                    "the quality scorers differ from another shard's (other versions of "
                    "refmgr[qa]): render the shards again with one set-up",
                    path,
                )
            scorers = lock["scorers"]
        entries += lock["entries"]
        missing += lock["missing"]
    absent = sorted(set(range(1, count + 1)) - set(seen))
    if absent:
        raise RefmgrError(
            f"shard {'/'.join(map(str, [absent[0], count]))} is missing "
            f"({len(absent)} of {count} shards absent): render it with --shard, then merge",
            first_path.parent,
        )
    merged = {k: v for k, v in first.items() if k not in ("shard", "scorers")}
    if scorers is not None:
        merged["scorers"] = scorers
    merged["references"] = dict(sorted(references.items()))
    merged["entries"] = sorted(entries, key=lambda e: int(e["index"]))
    merged["missing"] = sorted(missing, key=lambda e: int(e["index"]))
    if len(merged["entries"]) + len(merged["missing"]) != first["lines"]:
        raise RefmgrError(
            f"the shards hold {len(merged['entries']) + len(merged['missing'])} lines, "
            f"the script has {first['lines']}",
            first_path,
        )
    return merged


def _shard_of(path: Path, lock: Mapping[str, Any]) -> tuple[int, int]:
    shard = lock.get("shard")
    if not isinstance(shard, dict) or not all(
        type(shard.get(k)) is int for k in ("index", "count")
    ):
        raise RefmgrError("not a shard lock (no 'shard')", path)
    return int(shard["index"]), int(shard["count"])
