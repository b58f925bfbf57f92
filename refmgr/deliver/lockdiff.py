"""What changed in each line between two render locks: its text, seed and other parameters,
its character, its reference's inputs, the engine's pins, its lexicon entries, its audio.

Pure: two locks as ``read_lock``/``parse_lock`` checked them in, changes out. Lines are
matched by id (``[id]`` or number), the name their output carries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Lock = Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    what: str  # "new", "text", "seed", "params.NAME", "character", "reference", "pins", ...
    old: str = ""
    new: str = ""

    def describe(self) -> str:
        if self.what == "new":
            return "new line"
        if not self.old and not self.new:
            return self.what
        return f"{self.what}: {self.old} -> {self.new}"

    def to_json(self) -> dict[str, str]:
        return {"what": self.what, "old": self.old, "new": self.new}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _keys_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def line_changes(previous: Lock | None, current: Lock) -> dict[str, list[Change]]:
    """Each line of ``current`` (by id, entries and missing alike) and what changed since
    ``previous``; no key for a line that nothing changed. None: no previous lock."""
    if previous is None:
        return {}
    before = {e["id"]: e for e in previous["entries"]}
    before_missing = {m["id"]: m for m in previous["missing"]}
    engine_changes = _engine_changes(previous["engine"], current["engine"])
    found: dict[str, list[Change]] = {}
    for entry in current["entries"]:
        old = before.get(entry["id"])
        if old is None:
            rendered_now = entry["id"] in before_missing  # was listed, had no output
            changes = [Change("audio", "none", "rendered") if rendered_now else Change("new")]
        else:
            changes = _entry_changes(previous, old, current, entry) + engine_changes
        if changes:
            found[entry["id"]] = changes
    for missing in current["missing"]:
        if missing["id"] not in before and missing["id"] not in before_missing:
            found[missing["id"]] = [Change("new")]
        elif missing["id"] in before:
            found[missing["id"]] = [Change("audio", "rendered", "none")]
    return found


def entry_changes(
    previous: Lock, old: Mapping[str, Any], current: Lock, new: Mapping[str, Any]
) -> list[Change]:
    """What changed in the inputs of one line, entry ``old`` of lock ``previous`` to entry
    ``new`` of lock ``current``: the engine's included, its audio not (``render compare``
    weighs that by ear)."""
    changes = _entry_changes(previous, old, current, new)
    changes += _engine_changes(previous["engine"], current["engine"])
    return [c for c in changes if c.what != "audio"]


def every_line_new(current: Lock) -> dict[str, list[Change]]:
    """The changes of ``current`` against a revision that had no lock at all."""
    return {line["id"]: [Change("new")] for line in [*current["entries"], *current["missing"]]}


def _engine_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = []
    if old["id"] != new["id"]:
        changes.append(Change("engine", old["id"], new["id"]))
    for key in _keys_changed(old["pins"], new["pins"]):
        changes.append(
            Change(
                f"pins.{key}", _short(old["pins"].get(key, "-")), _short(new["pins"].get(key, "-"))
            )
        )
    return changes


def _entry_changes(
    previous: Lock, old: Mapping[str, Any], current: Lock, new: Mapping[str, Any]
) -> list[Change]:
    changes = []
    if old["text"] != new["text"]:
        changes.append(Change("text", _short(old["text"]), _short(new["text"])))
    if old["character"] != new["character"]:
        changes.append(Change("character", old["character"], new["character"]))
    else:
        was = previous["references"].get(old["character"], {}).get("inputs", {})
        now = current["references"].get(new["character"], {}).get("inputs", {})
        for key in _keys_changed(was, now):
            changes.append(
                Change(f"reference.{key}", _short(was.get(key, "-")), _short(now.get(key, "-")))
            )
    for key in _keys_changed(old["params"], new["params"]):
        name = "seed" if key == "seed" else f"params.{key}"
        changes.append(
            Change(name, _short(old["params"].get(key, "-")), _short(new["params"].get(key, "-")))
        )
    for key in _keys_changed(old.get("lexicon") or {}, new.get("lexicon") or {}):
        changes.append(Change(f"lexicon.{key}"))
    old_take, new_take = old.get("take"), new.get("take")
    if old_take != new_take:
        changes.append(Change("take", _take(old_take), _take(new_take)))
    if not changes and old["output"]["sha256"] != new["output"]["sha256"]:
        changes.append(Change("audio", old["output"]["sha256"][:12], new["output"]["sha256"][:12]))
    return changes


def _take(take: Mapping[str, Any] | None) -> str:
    return "1" if take is None else f"{take['take']} (seed {take['seed']})"
