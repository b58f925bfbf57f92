"""lexicon.toml: how to say names and words the engines get wrong.

A committed file at the voice repository's root::

    lexicon_version = 1

    [global]                       # every line
    Nguyen = "Win"                 # a respelling
    "Dr." = "Doctor"
    Siobhan = { say = "Shivawn", phonemes = "S@v'O:n" }   # phonemes where the engine takes them
    NASA = { say = "nassa", match_case = true }           # only NASA, not nasa

    [language.fr]                  # lines of characters whose reference is in French (fr, fr-CA)
    [character.alpha]              # one character's lines

A word or phrase matches whole words only (not 'Nguyens'), case-insensitively unless
``match_case``; any run of spaces in a phrase matches any run of whitespace. For one
line, a character's entry wins over its language's, the most specific language tag wins,
and both win over ``[global]``; at one place in a line the longest entry matches.
Phonemes are spelled for the engine that takes them (the draft engine: eSpeak NG's
phoneme mnemonics, spoken as ``[[...]]``); an engine that takes none (Fish Speech: text
only) uses ``say``, and a line whose only fitting entry has no ``say`` fails.

The file comes with a clone: it is read with a size cap and checked before use, and each
problem is one ``lexicon.toml: problem`` line. Only this module, the standard library and
refmgr.errors / fsutil / tomlread are imported: the commit hook validates it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refmgr.errors import RefmgrError
from refmgr.fsutil import read_regular
from refmgr.tomlread import parse_toml

LEXICON_FILE = "lexicon.toml"
LEXICON_VERSION = 1
MAX_LEXICON_BYTES = 1_000_000
MAX_ENTRIES = 20_000
MAX_WORD_CHARS = 200
MAX_SAY_CHARS = 1000
ENTRY_KEYS = ("say", "phonemes", "match_case")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # character names and language tags
# eSpeak mnemonics are printable ASCII; brackets would end the [[...]] early.
_PHONEMES = re.compile(r"^[\x20-\x5a\x5c\x5e-\x7e]+$")


class LexiconError(RefmgrError):
    """lexicon.toml cannot be read or is invalid."""


@dataclass(frozen=True)
class Entry:
    scope: str  # "global", "language.fr", "character.alpha"
    word: str
    say: str | None
    phonemes: str | None
    match_case: bool = False

    @property
    def folded(self) -> str:
        """What the entry matches, for comparing entries: its word, case-folded unless
        it matches case, spaces collapsed."""
        word = " ".join(self.word.split())
        return word if self.match_case else word.casefold()

    def pattern(self) -> str:
        body = r"\s+".join(re.escape(part) for part in self.word.split())
        # Whole words: no word character right before or after, where the word itself
        # starts or ends with one ("Dr." may be followed by anything).
        before = r"(?<!\w)" if re.match(r"\w", self.word[0]) else ""
        after = r"(?!\w)" if re.match(r"\w", self.word[-1]) else ""
        flags = "" if self.match_case else "(?i:"
        return f"{before}{flags}{body}{')' if flags else ''}{after}"

    def spoken(self, phonemes: bool) -> str | None:
        """What replaces the word for an engine that takes phonemes, or not; None: this
        entry has nothing that engine can say."""
        if phonemes and self.phonemes is not None:
            return f"[[{self.phonemes}]]"
        return self.say

    def key_part(self, phonemes: bool) -> dict[str, str]:
        """What of the entry goes into the cache key of a line it matches: its scope and
        the replacement the engine gets, nothing else (editing the unused one of say and
        phonemes renders nothing again)."""
        if phonemes and self.phonemes is not None:
            return {"scope": self.scope, "phonemes": self.phonemes}
        return {"scope": self.scope, "say": self.say or ""}


@dataclass(frozen=True)
class Applied:
    text: str  # what the engine is given
    matched: tuple[Entry, ...]  # the entries that matched, in order of first match


@dataclass
class Lexicon:
    entries: tuple[Entry, ...] = ()
    _voices: dict[tuple[str, str | None], tuple[re.Pattern[str] | None, list[Entry]]] = field(
        default_factory=dict, repr=False
    )

    def for_voice(self, character: str, language: str | None) -> list[Entry]:
        """The entries that apply to ``character`` speaking ``language``, most specific
        first, each word once (a narrower scope shadows a wider one)."""
        scopes = [f"character.{character}"]
        scopes += [f"language.{tag}" for tag in language_chain(language)]
        scopes.append("global")
        chosen: dict[str, Entry] = {}
        for scope in scopes:
            for entry in self.entries:
                if entry.scope == scope:
                    chosen.setdefault(entry.folded, entry)
        return list(chosen.values())

    def apply(self, text: str, character: str, language: str | None, *, phonemes: bool) -> Applied:
        """``text`` with every matching entry replaced (see the module's docstring)."""
        pattern, entries = self._compiled(character, language)
        if pattern is None:
            return Applied(text, ())
        matched: dict[int, Entry] = {}

        def replace(match: re.Match[str]) -> str:
            index = next(i for i, g in enumerate(match.groups()) if g is not None)
            entry = entries[index]
            matched.setdefault(index, entry)
            spoken = entry.spoken(phonemes)
            return match.group(0) if spoken is None else spoken

        spoken = pattern.sub(replace, text)
        return Applied(spoken, tuple(matched.values()))

    def _compiled(
        self, character: str, language: str | None
    ) -> tuple[re.Pattern[str] | None, list[Entry]]:
        key = (character, language)
        if key not in self._voices:
            # Longest first: at one place in a line, "New York City" beats "New York".
            entries = sorted(self.for_voice(character, language), key=lambda e: -len(e.word))
            pattern = re.compile("|".join(f"({e.pattern()})" for e in entries)) if entries else None
            self._voices[key] = (pattern, entries)
        return self._voices[key]


def language_chain(language: str | None) -> list[str]:
    """``en-US`` -> ``['en-us', 'en']``: most specific first, lower case."""
    if not language:
        return []
    parts = language.lower().replace("_", "-").split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def load_lexicon(root: Path) -> Lexicon:
    """The repository's lexicon.toml; an empty lexicon where there is none."""
    path = root / LEXICON_FILE
    if not path.exists() and not path.is_symlink():
        return Lexicon()
    data = read_regular(path, MAX_LEXICON_BYTES, LexiconError, "lexicon")
    return parse_lexicon(data, Path(LEXICON_FILE) if not path.is_absolute() else path)


def parse_lexicon(data: bytes, path: Path) -> Lexicon:
    """Check and read lexicon.toml's bytes; the first problem raises LexiconError."""
    if len(data) > MAX_LEXICON_BYTES:
        raise LexiconError(f"over the limit of {MAX_LEXICON_BYTES} bytes for a lexicon", path)
    doc = parse_toml(data, path, LexiconError)
    version = doc.get("lexicon_version")
    if version != LEXICON_VERSION:
        raise LexiconError(
            f"lexicon_version must be {LEXICON_VERSION} (found {version!r}): the first line "
            f"of the file is lexicon_version = {LEXICON_VERSION}",
            path,
        )
    entries: list[Entry] = []
    for key, value in doc.items():
        if key == "lexicon_version":
            continue
        if key == "global":
            entries += _entries("global", value, path)
        elif key in ("language", "character") and isinstance(value, dict):
            for name, table in value.items():
                if not _NAME.match(name):
                    raise LexiconError(f"[{key}.{name}]: not a valid {key} name", path)
                scope = f"{key}.{name.lower()}"  # script characters are lower case
                entries += _entries(scope, table, path)
        else:
            raise LexiconError(
                f"unknown table or key '{key}' (expected lexicon_version, [global], "
                "[language.TAG], [character.NAME])",
                path,
            )
        if len(entries) > MAX_ENTRIES:
            raise LexiconError(f"more than {MAX_ENTRIES} entries", path)
    return Lexicon(tuple(entries))


def _entries(scope: str, table: Any, path: Path) -> Iterable[Entry]:
    if not isinstance(table, dict):
        raise LexiconError(f"[{scope}] must be a table of word = respelling", path)
    for word, value in table.items():
        where = f"[{scope}] '{word}'"
        if not word.strip() or len(word) > MAX_WORD_CHARS or any(c in word for c in "\n\r\t"):
            raise LexiconError(
                f"{where}: a word or phrase is 1 to {MAX_WORD_CHARS} characters on one line",
                path,
            )
        if isinstance(value, str):
            value = {"say": value}
        if not isinstance(value, dict):
            raise LexiconError(f"{where}: give a respelling string or a table", path)
        unknown = sorted(set(value) - set(ENTRY_KEYS))
        if unknown:
            raise LexiconError(
                f"{where}: unknown key '{unknown[0]}' (expected {', '.join(ENTRY_KEYS)})", path
            )
        say, phonemes = value.get("say"), value.get("phonemes")
        match_case = value.get("match_case", False)
        if say is None and phonemes is None:
            raise LexiconError(f"{where}: give say = ... or phonemes = ...", path)
        if say is not None and not _fits(say, MAX_SAY_CHARS):
            raise LexiconError(
                f"{where}: say must be 1 to {MAX_SAY_CHARS} characters of text on one line, "
                "without [[ or ]]",
                path,
            )
        if phonemes is not None and not (
            isinstance(phonemes, str) and _PHONEMES.match(phonemes) and len(phonemes) <= 500
        ):
            raise LexiconError(
                f"{where}: phonemes must be eSpeak mnemonics (printable ASCII without "
                "brackets, at most 500)",
                path,
            )
        if not isinstance(match_case, bool):
            raise LexiconError(f"{where}: match_case must be true or false", path)
        yield Entry(scope, word.strip(), say, phonemes, match_case)


def _fits(text: Any, limit: int) -> bool:
    return (
        isinstance(text, str)
        and len(text.strip()) > 0
        and len(text) <= limit
        and "\n" not in text
        and "[[" not in text
        and "]]" not in text
    )


@dataclass(frozen=True)
class Overlap:
    """Two entries of the lexicon that say the same or contradict each other."""

    first: Entry
    second: Entry
    problem: str


def overlaps(lexicon: Lexicon) -> list[Overlap]:
    """Entries of one scope that match the same words (TOML keeps 'Nguyen' and 'nguyen'
    apart; matching does not): a duplicate if they say the same, else a conflict; and an
    entry that says what the wider entry it shadows already says (a redundant copy)."""
    found: list[Overlap] = []
    by_scope: dict[tuple[str, str], Entry] = {}
    for entry in lexicon.entries:
        key = (entry.scope, entry.folded.casefold())
        other = by_scope.get(key)
        if other is None:
            by_scope[key] = entry
            continue
        same = (other.say, other.phonemes) == (entry.say, entry.phonemes)
        if other.match_case and entry.match_case and other.word != entry.word:
            continue  # "US" and "us" with match_case: two different words
        found.append(Overlap(other, entry, "duplicate (says the same)" if same else "conflicting"))
    for entry in lexicon.entries:
        if entry.scope == "global":
            continue
        wider = by_scope.get(("global", entry.folded.casefold()))
        if wider is not None and (wider.say, wider.phonemes) == (entry.say, entry.phonemes):
            found.append(Overlap(wider, entry, "duplicate of the wider entry it shadows"))
    return found


def scripts_lines(lines: Sequence[tuple[str, str, str | None]], lexicon: Lexicon) -> set[Entry]:
    """The entries that match at least one of ``lines`` (text, character, language)."""
    used: set[Entry] = set()
    for text, character, language in lines:
        used.update(lexicon.apply(text, character, language, phonemes=True).matched)
    return used


def describe(entry: Entry) -> str:
    return f"[{entry.scope}] '{entry.word}'"


def matched_key(applied: Applied, phonemes: bool) -> Mapping[str, Any]:
    """The cache key's part for the entries ``applied`` matched: {word: scope + replacement}."""
    return {e.word: e.key_part(phonemes) for e in applied.matched}
