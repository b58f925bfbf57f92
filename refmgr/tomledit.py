"""Edit a user's TOML file in place: only the keys that change, comments and order kept.

refmgr.toml is the user's file (and the checkpoint locations file is too): a writing
command changes the values it must and nothing else, like pre-commit's autoupdate rewrites
only `rev:` lines. tomlkit keeps the document's layout; it is imported only here, by the
commands that write, never on the commit-hook path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Key = tuple[str, ...]
REMOVE = object()  # a value that removes the key


def edit(text: str, changes: Mapping[Key, Any]) -> str:
    """``text`` with each dotted key of ``changes`` set to its value (a dict becomes a
    table, REMOVE deletes the key); missing tables are made, everything else is kept."""
    import tomlkit

    document = tomlkit.parse(text)
    for key, value in changes.items():
        table: Any = document
        for i, part in enumerate(key[:-1]):
            if part not in table:
                if value is REMOVE:
                    break
                # A parent with no keys of its own (codecs.pins) stays implicit: [a.b.c].
                table[part] = tomlkit.table(
                    is_super_table=i < len(key) - 2 or isinstance(value, Mapping)
                )
            table = table[part]
        else:
            _set(table, key[-1], value)
    return tomlkit.dumps(document)


def _set(table: Any, name: str, value: Any) -> None:
    import tomlkit

    if value is REMOVE:
        if name in table:
            del table[name]
        return
    if isinstance(value, Mapping):
        new = tomlkit.table()
        for k, v in value.items():
            new[k] = _item(v)
        new.add(tomlkit.nl())  # a blank line before whatever table follows
        table[name] = new
        return
    table[name] = _item(value)


def _item(value: Any) -> Any:
    import tomlkit

    if isinstance(value, Sequence) and not isinstance(value, str):
        array = tomlkit.array()
        array.extend(value)
        return array
    return value
