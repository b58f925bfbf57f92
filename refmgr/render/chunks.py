"""Long lines: split at sentence ends into chunks, each rendered and cached on its own.

A line longer than its engine's limit (``EngineSpec.max_chunk_chars``, lowered by
refmgr.toml's ``[render] chunk_chars``) is cut at sentence ends, a sentence still too long
at clause ends, a clause still too long between words (and a word longer than the limit
anywhere). Cutting at every sentence end, rather than filling each chunk up to the limit,
keeps an edit local: a changed sentence changes its own chunk, while filling would move
every later cut. Pieces shorter than a quarter of the limit join the next one, so that
"Yes." is not a chunk of its own. A line within the limit is never split: it renders, and
is keyed, exactly as before chunking existed.

Each chunk has a cache key of its own (``chunk_key``): the engine, its pins, the reference,
the chunk's text and the synthesis parameters. A chunk is spoken with the line's seed
(the take's seed for a retake): it does not depend on the chunk's position or on the other
chunks, so editing one sentence leaves the other chunks' keys, and audio, as they were.
The chunks of a line are joined with ``chunk_pause_ms`` of silence between them.

Chunk audio is kept in ``renders/SCRIPT/.chunks/KEY.wav`` (beside the outputs, so that a
CI cache of renders/ carries it), in the same self-describing WAV format as the outputs.
All of it is untrusted: a file is used only if it is a regular file (never a symlink) of
bounded size, its sha256 is the one the lock or this checkout's own record
(``.refmgr/render-SCRIPT.chunks.json``) holds for its key, and it is byte for byte the file
refmgr would write for its samples and key. Anything else is rendered again. A whole
render removes the chunks no line uses any more.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import re
import stat
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.backends.base import (
    Engine,
    EngineSpec,
    FloatAudio,
    LineRequest,
    LineResult,
    Synthesis,
    VoiceReference,
    synthesize_many,
)
from refmgr.config import RenderSettings
from refmgr.errors import BackendError, RefmgrError
from refmgr.fsutil import atomic_write
from refmgr.params import SynthesisParams
from refmgr.project import is_real_dir, write_dir
from refmgr.render.output import (
    ChunkedSynthesis,
    ChunkFacts,
    encode_output,
    facts_of,
    pcm_of,
)

SPLITTER = 1  # bump when split_text cuts differently: every split line renders again
CHUNK_KEY_VERSION = 1  # bump when chunk_key's document changes shape
CHUNKS_DIR = ".chunks"
MAX_CHUNK_BYTES = 64 * 1024 * 1024  # 12 min of 44.1 kHz audio: far beyond any chunk
MAX_RECORD_BYTES = 16 * 1024 * 1024
MIN_SHARE = 4  # a piece under limit / MIN_SHARE characters joins the next one
KEY_FILE = re.compile(r"[0-9a-f]{64}\.wav")
SHA256 = re.compile(r"[0-9a-f]{64}")

# A sentence ends at . ! ? or the ellipsis (closing quotes and brackets go with it) before
# a space, or at a CJK full stop, exclamation or question mark, which need no space after.
# Written as escapes: several of these look like ASCII punctuation and are not.
CLOSERS = "\"')\\]\u201d\u2019\u00bb"  # " ' ) ] and the curly closing quotes, guillemet
OPENERS = "\"'([\u201c\u2018\u00ab"
CJK_ENDS = "\u3002\uff01\uff1f"  # ideographic full stop, fullwidth ! and ?
CJK_CLOSERS = "\u300d\u300f\u201d\u2019\uff09"  # corner brackets, quotes, fullwidth )
SENTENCE_END = re.compile(f"[.!?\u2026]+[{CLOSERS}]*(?=\\s)|[{CJK_ENDS}]+[{CJK_CLOSERS}]*")
# , ; : and the em and en dash before a space; fullwidth comma, ideographic comma,
# fullwidth semicolon and colon anywhere.
CLAUSE_END = re.compile(f"[,;:\u2014\u2013][{CLOSERS}]*(?=\\s)|[\uff0c\u3001\uff1b\uff1a]")
WORD_GAP = re.compile(r"\s+")
# Words whose period is not a sentence end. Single letters (initials) and dotted
# abbreviations ("e.g.", "U.S.") are recognised by their shape; "No." only before a number.
_ABBREVIATED = (
    "mr mrs ms mx dr prof sr jr st mt ft vs etc cf al approx dept est fig inc ltd co vol ch "
    "pp ed eds rev gen col capt lt sgt gov sen rep jan feb mar apr jun jul aug sep sept oct "
    "nov dec"
)
ABBREVIATIONS = frozenset(_ABBREVIATED.split())
DOTTED = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")


@dataclass(frozen=True)
class Chunking:
    """How the lines of one render are split and joined."""

    max_chars: int
    pause_ms: int

    def splits(self, text: str) -> bool:
        return len(text) > self.max_chars

    def to_json(self) -> dict[str, Any]:
        """What of the chunking changes a split line's sound: in its cache key and lock."""
        return {"splitter": SPLITTER, "max_chars": self.max_chars, "pause_ms": self.pause_ms}


def chunking_for(spec: EngineSpec, settings: RenderSettings) -> Chunking:
    """The engine's limit, or refmgr.toml's chunk_chars where that is lower."""
    limit = spec.max_chunk_chars
    if settings.chunk_chars:
        limit = min(limit, settings.chunk_chars)
    return Chunking(max_chars=limit, pause_ms=settings.chunk_pause_ms)


# --- splitting ---------------------------------------------------------------------------

Span = tuple[int, int]  # [start, end) in the line's text, whitespace trimmed


def split_text(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters (see the module's doc);
    joined again they are ``text`` but for the whitespace at the cuts."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    pieces: list[Span] = []
    for span in _cut(text, (0, len(text)), SENTENCE_END):
        pieces += _fit(text, span, limit)
    return [text[start:end] for start, end in _merge(pieces, limit)]


def _cut(text: str, span: Span, pattern: re.Pattern[str]) -> list[Span]:
    """``span`` cut after each boundary ``pattern`` finds there."""
    start, end = span
    cuts = [start]
    for found in pattern.finditer(text, start, end):
        if pattern is SENTENCE_END and not _ends_sentence(text, found):
            continue
        cuts.append(found.end())
    cuts.append(end)
    spans = (_trim(text, a, b) for a, b in itertools.pairwise(cuts))
    return [s for s in spans if s[0] < s[1]]


def _ends_sentence(text: str, found: re.Match[str]) -> bool:
    mark = found.group()
    if mark[0] in CJK_ENDS:
        return True
    after = text[found.end() :].lstrip()
    if after[:1].islower():
        return False  # "etc. and", "Wait... what": the sentence goes on
    if mark.rstrip(CLOSERS) != ".":
        return True  # ! ? the ellipsis and "...": no abbreviation ends in those
    word = text[: found.start()].rsplit(None, 1)[-1] if text[: found.start()].strip() else ""
    word = word.lstrip(OPENERS)
    if word.lower() in ABBREVIATIONS or DOTTED.fullmatch(word):
        return False  # "Dr. Smith", "J. R. R. Tolkien", "e.g. this"
    return not (word.lower() == "no" and after[:1].isdigit())  # "No. 5"


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _fit(text: str, span: Span, limit: int) -> list[Span]:
    """``span`` (a sentence) as pieces within ``limit``: whole, else its clauses, else its
    words, else cut hard."""
    if span[1] - span[0] <= limit:
        return [span]
    pieces: list[Span] = []
    for clause in _pack(_cut(text, span, CLAUSE_END), limit):
        if clause[1] - clause[0] <= limit:
            pieces.append(clause)
            continue
        words = [_trim(text, *w) for w in _gaps(text, clause)]
        for word in _pack(words, limit):
            start, end = word
            while end - start > limit:  # one word longer than the limit (or unspaced CJK)
                pieces.append((start, start + limit))
                start += limit
            pieces.append((start, end))
    return pieces


def _gaps(text: str, span: Span) -> Iterator[Span]:
    start = span[0]
    for gap in WORD_GAP.finditer(text, span[0], span[1]):
        yield start, gap.start()
        start = gap.end()
    yield start, span[1]


def _pack(spans: list[Span], limit: int) -> list[Span]:
    """Neighbouring ``spans`` joined while the whole stays within ``limit``."""
    packed: list[Span] = []
    for span in spans:
        if packed and span[1] - packed[-1][0] <= limit:
            packed[-1] = (packed[-1][0], span[1])
        else:
            packed.append(span)
    return packed


def _merge(pieces: list[Span], limit: int) -> list[Span]:
    """A piece shorter than limit / MIN_SHARE joins the next (the last, the one before)."""
    short = max(1, limit // MIN_SHARE)
    merged: list[Span] = []
    for span in pieces:
        if merged and merged[-1][1] - merged[-1][0] < short and span[1] - merged[-1][0] <= limit:
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    last = merged[-1] if merged else (0, 0)
    if len(merged) > 1 and last[1] - last[0] < short and last[1] - merged[-2][0] <= limit:
        merged[-2:] = [(merged[-2][0], last[1])]
    return merged


# --- keys --------------------------------------------------------------------------------


def reference_inputs(reference: VoiceReference) -> dict[str, Any]:
    """What of a reference, as an engine gets it, can change a chunk's sound."""
    return {
        "codec": reference.codec_id,
        "tokens_sha256": reference.tokens_sha256,
        "transcript_sha256": hashlib.sha256(reference.transcript.encode()).hexdigest(),
        "language": reference.language,
        "profile": dict(reference.profile),
    }


def chunk_key(
    engine_id: str,
    pins: Mapping[str, Any],
    reference: VoiceReference,
    text: str,
    params: SynthesisParams,
) -> str:
    """The cache key of one chunk: everything the engine is given for it, nothing else
    (not its position, not the other chunks, not the pause that joins them)."""
    document = {
        "chunk": CHUNK_KEY_VERSION,
        "engine": {"id": engine_id, "pins": pins},
        "reference": reference_inputs(reference),
        "text": text,
        "params": dataclasses.asdict(params),
    }
    data = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PlannedChunk:
    text: str
    key: str


def plan_chunks(
    chunking: Chunking,
    engine_id: str,
    pins: Mapping[str, Any],
    reference: VoiceReference,
    text: str,
    params: SynthesisParams,
) -> tuple[PlannedChunk, ...]:
    """The chunks of a line's (spoken) text; () for a line within the limit."""
    if not chunking.splits(text):
        return ()
    return tuple(
        PlannedChunk(part, chunk_key(engine_id, pins, reference, part, params))
        for part in split_text(text, chunking.max_chars)
    )


# --- the store ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkAudio:
    audio: FloatAudio  # as the file holds it (16-bit), so cached and fresh chunks join alike
    sample_rate: int
    facts: ChunkFacts


class ChunkStore:
    """The chunk audio of one script's split lines (see the module's doc)."""

    def __init__(
        self,
        root: Path,
        directory: Path,
        record: Path,
        *,
        engine_id: str,
        draft: bool,
        trusted: Mapping[str, str] | None = None,
    ) -> None:
        self.root, self.directory, self.record = root, directory, record
        self.engine_id, self.draft = engine_id, draft
        self.trusted = dict(trusted or {})  # chunk key -> sha256, as the last lock records them
        self.written = _read_record(record)  # ... and as this checkout wrote them

    def get(self, key: str) -> ChunkAudio | None:
        # The lock's record, or this checkout's: they differ where the engine is not
        # deterministic (a GPU) and the lock was written on another machine.
        accepted = {self.trusted.get(key), self.written.get(key)} - {None}
        if not accepted or not is_real_dir(self.root, self.directory):
            return None
        data = _read_bounded(self.directory / f"{key}.wav", MAX_CHUNK_BYTES)
        sha256 = None if data is None else hashlib.sha256(data).hexdigest()
        if data is None or sha256 not in accepted:
            return None
        facts = facts_of(data)
        if facts is None or facts.key != key:
            return None
        audio, rate = pcm_of(data)
        if audio.size == 0 or rate <= 0:
            return None
        # The file refmgr writes for these samples, or not trusted (extra chunks, stereo,
        # another sample format: nothing but what put() writes is read back).
        if self._encode(key, Synthesis(audio, rate)) != data:
            return None
        return ChunkAudio(
            audio, rate, ChunkFacts(key, hashlib.sha256(data).hexdigest(), audio.size)
        )

    def put(self, key: str, synthesis: Synthesis) -> ChunkAudio:
        data = self._encode(key, synthesis)
        target = self.directory / f"{key}.wav"
        try:
            if self.directory.is_symlink() or self.directory.is_file():
                # A link to elsewhere (never written through) or a file in the way: ours to
                # replace, as the chunk files in there are.
                self.directory.unlink()
            write_dir(self.root, self.directory)
            atomic_write(target, data)
        except OSError as e:
            raise RefmgrError(f"cannot write a chunk: {e.strerror}", target) from None
        sha256 = hashlib.sha256(data).hexdigest()
        self.written[key] = sha256
        self._save()
        audio, rate = pcm_of(data)
        return ChunkAudio(audio, rate, ChunkFacts(key, sha256, int(audio.size)))

    def prune(self, keep: Collection[str]) -> list[str]:
        """Remove the chunks (and leftover temporaries) whose key is not in ``keep``."""
        removed: list[str] = []
        if is_real_dir(self.root, self.directory) and self.directory.is_dir():
            for entry in sorted(os.listdir(self.directory)):
                ours = KEY_FILE.fullmatch(entry) or (
                    entry.startswith(".") and entry.endswith(".tmp")
                )
                if not ours or entry[:64] in keep:
                    continue
                with contextlib.suppress(OSError):
                    (self.directory / entry).unlink()
                    removed.append(entry)
        before = len(self.written)
        self.written = {k: v for k, v in self.written.items() if k in keep}
        if len(self.written) != before:
            self._save()
        return removed

    def _encode(self, key: str, synthesis: Synthesis) -> bytes:
        return encode_output(synthesis, key=key, engine_id=self.engine_id, draft=self.draft)

    def _save(self) -> None:
        # No fsync: a torn record only means chunks rendered again.
        with contextlib.suppress(OSError):
            self.record.parent.mkdir(exist_ok=True)
            self.record.write_text(json.dumps({"chunks": self.written}, sort_keys=True), "utf-8")


def _read_bounded(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of a regular file, not a symlink, of at most ``max_bytes``; else None."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None  # missing, a symlink (ELOOP), unreadable
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)
        return data if len(data) <= max_bytes else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_record(path: Path) -> dict[str, str]:
    """This checkout's record of the chunks it wrote; empty if missing or not sound."""
    data = _read_bounded(path, MAX_RECORD_BYTES)
    if data is None:
        return {}
    try:
        chunks = json.loads(data.decode("utf-8"))["chunks"]
    except (ValueError, KeyError, TypeError):
        return {}
    if not isinstance(chunks, dict):
        return {}
    return {
        k: v
        for k, v in chunks.items()
        if isinstance(v, str) and SHA256.fullmatch(k) and SHA256.fullmatch(v)
    }


# --- the engine --------------------------------------------------------------------------


class ChunkingEngine:
    """An engine that speaks long texts chunk by chunk: it splits each request's text,
    takes the chunks the store holds, sends the others of all requests together to the
    inner engine (one batch where it batches), stores them and joins each request's
    chunks. Texts within the limit go to the inner engine as they are."""

    def __init__(self, inner: Engine, store: ChunkStore, chunking: Chunking) -> None:
        self.inner, self.store, self.chunking = inner, store, chunking
        self.spec = inner.spec
        self._pins: dict[str, Any] | None = None

    def pins(self) -> dict[str, Any]:
        return self.inner.pins()  # the same as the inner engine's: a line's key is unchanged

    def close(self) -> None:
        self.inner.close()

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        for _, result in self.synthesize_many([LineRequest(reference, text, params)]):
            if isinstance(result, Exception):
                raise result
            return result
        raise AssertionError("synthesize_many yielded nothing")  # pragma: no cover

    def synthesize_many(self, requests: Sequence[LineRequest]) -> Iterator[LineResult]:
        if self._pins is None:
            self._pins = self.inner.pins()
        calls: list[LineRequest] = []  # what the inner engine is asked, in one go
        whole: dict[int, int] = {}  # call -> the request it is, spoken as it is
        spoken_by: dict[int, str] = {}  # call -> the chunk key it speaks
        chunks: dict[int, tuple[PlannedChunk, ...]] = {}  # request -> its chunks
        waiting: dict[str, list[int]] = {}  # chunk key -> the requests that need it
        ready: dict[str, ChunkAudio] = {}
        for index, request in enumerate(requests):
            planned = plan_chunks(
                self.chunking, self.spec.id, self._pins, request.reference, request.text,
                request.params,
            )  # fmt: skip
            if not planned:
                whole[len(calls)] = index
                calls.append(request)
                continue
            chunks[index] = planned
            for chunk in planned:
                if chunk.key in ready:
                    continue
                if chunk.key not in waiting:
                    cached = self.store.get(chunk.key)
                    if cached is not None:
                        ready[chunk.key] = cached
                        continue
                    spoken_by[len(calls)] = chunk.key
                    calls.append(LineRequest(request.reference, chunk.text, request.params))
                waiting.setdefault(chunk.key, []).append(index)
        for index, planned in chunks.items():
            if all(c.key in ready for c in planned):
                yield index, self._joined(planned, ready)  # every chunk cached
        failed: set[int] = set()
        for call, result in synthesize_many(self.inner, calls):
            if call in whole:
                yield whole[call], result
                continue
            key = spoken_by[call]
            if not isinstance(result, Exception):
                try:
                    ready[key] = self.store.put(key, result)
                except BackendError as e:  # no audio, NaN: the lines of that chunk fail
                    result = e
            for index in dict.fromkeys(waiting.pop(key)):
                if index in failed:
                    continue
                if isinstance(result, Exception):
                    failed.add(index)  # its first failing chunk fails it; no more yields
                    yield index, result
                elif all(c.key in ready for c in chunks[index]):
                    yield index, self._joined(chunks[index], ready)

    def _joined(
        self, planned: tuple[PlannedChunk, ...], ready: Mapping[str, ChunkAudio]
    ) -> Synthesis | Exception:
        try:
            return self._join([ready[c.key] for c in planned])
        except BackendError as e:
            return e

    def _join(self, parts: list[ChunkAudio]) -> Synthesis:
        rate = parts[0].sample_rate
        if any(p.sample_rate != rate for p in parts):
            rates = sorted({p.sample_rate for p in parts})
            raise BackendError(f"engine '{self.spec.id}' spoke chunks at rates {rates}")
        pause = np.zeros(round(rate * self.chunking.pause_ms / 1000), dtype=np.float32)
        pieces: list[FloatAudio] = []
        for i, part in enumerate(parts):
            pieces += [pause, part.audio] if i else [part.audio]
        return ChunkedSynthesis(
            audio=np.concatenate(pieces).astype(np.float32),
            sample_rate=rate,
            chunks=tuple(p.facts for p in parts),
        )


def chunk_store(
    root: Path,
    renders_dir: Path,
    state_dir: Path,
    script_name: str,
    *,
    engine: EngineSpec,
    trusted: Mapping[str, str] | None = None,
) -> ChunkStore:
    return ChunkStore(
        root,
        renders_dir / script_name / CHUNKS_DIR,
        state_dir / f"render-{script_name}.chunks.json",
        engine_id=engine.id,
        draft=engine.draft,
        trusted=trusted,
    )
