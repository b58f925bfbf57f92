"""Scripts: one utterance per line, ``[id] NAME {key=value, ...}: text``.

    # comments and blank lines are ignored
    alpha: Good evening.
    [intro-02] beta: Lines with an id keep their output name when lines are inserted.
    alpha {seed=7, gap=1.5}: Per-line overrides: synthesis parameters, and the pause after it.

Every problem is reported as ``script.txt:LINE:COL: problem`` and stops the render before
anything is written: a script is small and cheap to fix, a half-rendered one is not.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from refmgr.config import MAX_GAP_S, Limits
from refmgr.errors import RefmgrError, display_path
from refmgr.fsutil import read_regular
from refmgr.params import PARAM_TYPES, param_problem

ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
KEY_PATTERN = re.compile(r"[a-z_]+")
SCRIPT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
OVERRIDES = (*PARAM_TYPES, "gap")  # gap: seconds of silence after the line in --mix
SHARD_MARK = ".shard-"  # in renders/NAME.shard-K-of-N.lock.json, and in no script name
# A feature film's dialogue is a few hundred KB: a bigger file is not a script to render.
MAX_SCRIPT_BYTES = 8 << 20


class ScriptError(RefmgrError):
    """A problem at a place in a script: ``script.txt:LINE:COL: problem``."""

    def __init__(self, message: str, path: Path, line: int, column: int | None) -> None:
        super().__init__(message, path)
        self.line, self.column = line, column

    def __str__(self) -> str:
        where = f"{self.line}" if self.column is None else f"{self.line}:{self.column}"
        return f"{display_path(self.path or '')}:{where}: {self.message}"


class ScriptErrors(RefmgrError):
    """Every problem found in a script, in line order: one ``script.txt:LINE:COL:`` line
    each, so that one run shows all there is to fix."""

    def __init__(self, errors: list[ScriptError]) -> None:
        super().__init__(errors[0].message, errors[0].path)
        self.errors = sorted(errors, key=lambda e: (e.line, e.column or 0))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def raise_all(errors: list[ScriptError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ScriptErrors(errors)


@dataclass(frozen=True)
class ScriptLine:
    index: int  # 1-based position among the utterances
    line: int  # 1-based line number in the file
    id: str | None  # the stable id given in [brackets]
    character: str  # lower-cased reference name
    character_column: int
    text: str  # whitespace collapsed: spacing never changes the sound
    overrides: dict[str, float] = field(default_factory=dict)
    override_columns: dict[str, int] = field(default_factory=dict)  # 1-based, per key

    @property
    def label(self) -> str:
        """The line's name in outputs, --only and messages: its id, else its number."""
        return self.id if self.id is not None else f"{self.index:04d}"

    @property
    def stem(self) -> str:
        return f"{self.label}-{self.character}"


@dataclass(frozen=True)
class Script:
    path: Path
    name: str  # the file name without extension: renders/NAME/, renders/NAME.lock.json
    lines: tuple[ScriptLine, ...]
    # Which script this is, as its lock records it (see script_source): two scripts with
    # one file name would share renders/NAME/, so a lock names the script it belongs to.
    source: str = ""

    def error(self, line: ScriptLine, message: str, column: int | None = None) -> ScriptError:
        return ScriptError(message, self.path, line.line, column or line.character_column)


def script_name(path: Path) -> str:
    """The name of a script's outputs folder and lock: its file name without extension."""
    name = path.stem
    if not SCRIPT_NAME.fullmatch(name):
        raise RefmgrError(
            "script file names must use letters, digits, '.', '_' and '-' "
            "(the name becomes a folder under renders/)",
            path,
        )
    if SHARD_MARK in name:
        # Its lock, NAME.lock.json, would look like a shard lock of another script
        # (renders/EP.shard-K-of-N.lock.json): git-ignored, and taken for EP's shards.
        raise RefmgrError(
            f"script file names must not contain '{SHARD_MARK}': renders/*{SHARD_MARK}*.lock.json "
            "are the locks of sharded renders; rename the script",
            path,
        )
    return name


def script_source(root: Path, path: Path) -> str:
    """The script as its lock names it: its path relative to the repository root,
    '/'-separated; for a script outside the repository only its file name, so that no
    machine's absolute path is ever committed in a lock."""
    absolute = Path(os.path.abspath(path))  # '..' folded; the file's own symlink kept
    try:
        return (absolute.parent.resolve() / absolute.name).relative_to(root.resolve()).as_posix()
    except ValueError:
        return absolute.name


def read_script(
    path: Path, root: Path | None = None, *, max_line_chars: int = Limits.max_line_chars
) -> Script:
    """The script at ``path``; ``root``: the repository root its source is relative to."""
    raw = read_regular(path, MAX_SCRIPT_BYTES, what="script")
    source = script_source(root, path) if root is not None else path.name
    return parse_script(raw, path, source=source, max_line_chars=max_line_chars)


def parse_script(
    raw: bytes,
    path: Path,
    *,
    source: str | None = None,
    max_line_chars: int = Limits.max_line_chars,
) -> Script:
    name = script_name(path)
    text = _decode(raw, path)
    lines: list[ScriptLine] = []
    errors: list[ScriptError] = []
    seen_ids: dict[str, int] = {}
    seen_stems: dict[str, int] = {}
    for number, content in enumerate(text.split("\n"), start=1):
        content = content.rstrip("\r")
        if len(content) > max_line_chars:
            # An engine's memory and time grow with the line: a runaway line is refused
            # before anything is loaded, whatever it holds (comments included: one rule).
            errors.append(
                ScriptError(
                    f"line is {len(content)} characters, limit {max_line_chars} "
                    "(limits.max_line_chars in refmgr.toml)",
                    path,
                    number,
                    None,
                )
            )
            continue
        if not content.strip() or content.lstrip().startswith("#"):
            continue
        try:
            line = _parse_line(content, number, len(lines) + len(errors) + 1, path)
        except ScriptError as e:
            errors.append(e)  # and go on: every problem is reported at once
            continue
        if line.id is not None:
            folded = line.id.lower()  # ids become file names: keep them apart on any filesystem
            if folded in seen_ids:
                errors.append(
                    ScriptError(
                        f"duplicate line id '{line.id}' (first used on line {seen_ids[folded]})",
                        path,
                        number,
                        content.index("[") + 2,
                    )
                )
                continue
            seen_ids[folded] = number
        # "[a-b] c:" and "[a] b-c:" both make a-b-c.wav; case-folded, as for ids.
        stem = line.stem.lower()
        if stem in seen_stems:
            column = content.index("[") + 2 if line.id is not None else line.character_column
            errors.append(
                ScriptError(
                    f"output name '{line.stem}' is also that of line {seen_stems[stem]}: both "
                    f"would write {line.stem}.wav; give one of them another id",
                    path,
                    number,
                    column,
                )
            )
            continue
        seen_stems[stem] = number
        lines.append(line)
    raise_all(errors)
    if not lines:
        raise RefmgrError("script has no lines to render (expected 'NAME: text' lines)", path)
    return Script(path=path, name=name, lines=tuple(lines), source=source or path.name)


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        start = raw.rfind(b"\n", 0, e.start) + 1
        column = len(raw[start : e.start].decode("utf-8", errors="replace")) + 1
        raise ScriptError(
            f"not UTF-8 text (invalid byte 0x{raw[e.start]:02x}); save the script as UTF-8",
            path,
            line,
            column,
        ) from None


def _parse_line(content: str, number: int, index: int, path: Path) -> ScriptLine:
    def fail(message: str, pos: int) -> ScriptError:
        return ScriptError(message, path, number, pos + 1)

    pos = len(content) - len(content.lstrip())
    line_id = None
    if content.startswith("[", pos):
        end = content.find("]", pos)
        if end < 0:
            raise fail("unclosed '[' of a line id", pos)
        line_id = content[pos + 1 : end].strip()
        if not ID_PATTERN.fullmatch(line_id):
            raise fail(
                f"invalid line id '{line_id}': use up to 64 letters, digits, '_', '.' and '-', "
                "starting with a letter",
                pos + 1,
            )
        pos = _skip_space(content, end + 1)
    match = NAME_PATTERN.match(content, pos)
    name_end = match.end() if match else pos
    after = _skip_space(content, name_end)
    if not match or (after >= len(content) or content[after] not in ":{"):
        raise fail("expected 'NAME: text' (a reference name, a colon, then the text)", pos)
    character_column = pos + 1
    overrides: dict[str, float] = {}
    columns: dict[str, int] = {}
    if content[after] == "{":
        end = content.find("}", after)
        if end < 0:
            raise fail("unclosed '{' of the line's overrides", after)
        overrides, columns = _parse_overrides(content, after + 1, end, fail)
        after = _skip_space(content, end + 1)
        if after >= len(content) or content[after] != ":":
            raise fail("expected ':' and the text after the overrides", after)
    body = content[after + 1 :]
    text = " ".join(body.split())
    if not text:
        raise fail(f"empty text after '{content[pos:name_end]}:'", after)
    control = next((c for c in text if ord(c) < 32 or ord(c) == 127), None)
    if control is not None:
        column = after + 1 + body.index(control)
        raise fail(f"control character U+{ord(control):04X} in the text", column)
    return ScriptLine(
        index=index,
        line=number,
        id=line_id,
        character=match.group().lower(),
        character_column=character_column,
        text=text,
        overrides=overrides,
        override_columns=columns,
    )


_Fail = Callable[[str, int], "ScriptError"]  # makes the error for a 0-based column


def _skip_space(content: str, pos: int) -> int:
    while pos < len(content) and content[pos] in " \t":
        pos += 1
    return pos


def _parse_overrides(
    content: str, start: int, end: int, fail: _Fail
) -> tuple[dict[str, float], dict[str, int]]:
    """The overrides between ``start`` and ``end``, and the 1-based column of each."""
    overrides: dict[str, float] = {}
    columns: dict[str, int] = {}
    pos = start
    for item in content[start:end].split(","):
        column = pos + len(item) - len(item.lstrip())
        pos += len(item) + 1
        if not item.strip():
            raise fail("empty override (write {key=value, ...})", column)
        key, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not KEY_PATTERN.fullmatch(key):
            raise fail(f"expected key=value, not '{item.strip()}'", column)
        if key not in OVERRIDES:
            raise fail(f"unknown override '{key}' (known: {', '.join(OVERRIDES)})", column)
        if key in overrides:
            raise fail(f"override '{key}' given twice", column)
        overrides[key] = _override_value(key, value, column, fail)
        columns[key] = column + 1
    return overrides, columns


def _override_value(key: str, value: str, column: int, fail: _Fail) -> float:
    wanted = PARAM_TYPES.get(key, float)
    try:
        number: float = int(value) if wanted is int else float(value)
    except ValueError:
        kind = "an integer" if wanted is int else "a number"
        raise fail(f"{key} must be {kind}, not '{value}'", column) from None
    if not math.isfinite(number):
        raise fail(f"{key} must be a finite number, not '{value}'", column)
    problem = param_problem(key, number) if key in PARAM_TYPES else None
    if key == "gap" and not 0 <= number <= MAX_GAP_S:
        problem = f"gap must be between 0 and {MAX_GAP_S:g} seconds, not {value}"
    if problem:
        raise fail(problem, column)
    return number
