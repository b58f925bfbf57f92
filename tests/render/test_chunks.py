"""Long lines: split at sentence ends, each chunk rendered and cached on its own
(refmgr/render/chunks.py), with the draft engine and real eSpeak audio."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refmgr.backends.base import LineRequest, LineResult, Synthesis, VoiceReference
from refmgr.backends.registry import ENGINES, load_engine
from refmgr.commands.render import merge_shards, plan_render
from refmgr.errors import BackendError
from refmgr.params import DEFAULTS, SynthesisParams
from refmgr.project import open_project
from refmgr.render.chunks import Chunking, ChunkingEngine, chunk_store, split_text
from refmgr.render.output import ChunkedSynthesis, encode_output, facts_of, pcm_of
from refmgr.render.plan import Shard, cache_key, key_document
from tests.support.cli import run_cli
from tests.support.helpers import git
from tests.support.render import (
    check_lock,
    chunk_files,
    long_text,
    outputs,
    read_lock,
    render,
    rendered,
)

# --- the splitter ------------------------------------------------------------------------


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_a_text_within_the_limit_is_one_piece() -> None:
    assert split_text("Short. Very short.", 400) == ["Short. Very short."]


def test_sentences_are_cut_at_their_ends_and_short_ones_join_the_next() -> None:
    text = "Yes. " + "The first long sentence goes on for a while here. " * 2 + "No! Why? Fine."
    assert split_text(text, 60) == [
        "Yes. The first long sentence goes on for a while here.",
        "The first long sentence goes on for a while here.",
        "No! Why? Fine.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith and Mrs. Jones met at St. Paul's at 3.5 past nine, then left together.",
        "We saw e.g. apples and i.e. pears, and J. R. R. Tolkien wrote about them at length.",
        "The parcel went to No. 5 Harbour Road, which is where the U.S. office stood for years.",
        "It costs 3.50 dollars, or 1,000 cents... and nobody complained about it after all.",
    ],
)
def test_abbreviations_initials_and_numbers_do_not_end_a_sentence(text: str) -> None:
    # Cut only at clause ends or between words (the sentence is over the limit), never
    # after "Dr." or inside "3.5": no piece ends with an abbreviation's period.
    for piece in split_text(text + " " + text, len(text) + 1):
        assert piece == text


def test_cjk_sentence_and_clause_marks() -> None:
    text = "今天天气很好\uff0c我们去公园散步吧。明天会下雨吗\uff1f我不知道\uff01" * 2
    pieces = split_text(text, 20)
    assert all(len(p) <= 20 for p in pieces)
    assert "".join(pieces) == text
    assert pieces[0].endswith("。")


def test_a_long_sentence_is_cut_at_clauses_then_words_then_anywhere() -> None:
    clauses = "one two three, four five six; seven eight nine: ten eleven twelve."
    assert split_text(clauses, 30) == [
        "one two three, four five six;",
        "seven eight nine:",
        "ten eleven twelve.",
    ]
    assert split_text("alpha beta gamma delta epsilon zeta eta", 12) == [
        "alpha beta",
        "gamma delta",
        "epsilon zeta",
        "eta",
    ]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


WORDS = st.sampled_from(
    ["the", "sea", "Dr.", "e.g.", "3.5", "ship", "calm", "night", "J.", "harbour", "x" * 30]
)
MARKS = st.sampled_from(["", "", "", ".", ",", "!", "?", ";", ":", "...", "。", "\uff0c", '."'])
TEXTS = st.lists(st.tuples(WORDS, MARKS), min_size=1, max_size=120).map(
    lambda pairs: " ".join(w + m for w, m in pairs)
)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, limit=st.integers(min_value=1, max_value=200))
def test_pieces_are_within_the_limit_and_keep_every_character(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert pieces and all(0 < len(p) <= limit for p in pieces)
    assert all(p == p.strip() for p in pieces)
    assert squeeze("".join(pieces)) == squeeze(text)
    assert split_text(text, limit) == pieces  # deterministic


SENTENCE = st.text(alphabet="abcdefghij ", min_size=30, max_size=90).map(
    lambda s: "Now " + re.sub(r"\s+", " ", s).strip() + " end."
)


@settings(max_examples=200, deadline=None)
@given(
    sentences=st.lists(SENTENCE, min_size=2, max_size=12),
    which=st.integers(min_value=0),
    edit=SENTENCE,
)
def test_editing_one_sentence_changes_one_piece(
    sentences: list[str], which: int, edit: str
) -> None:
    # Sentences within the limit and over a quarter of it: each is a piece of its own.
    which %= len(sentences)
    before = split_text(" ".join(sentences), 100)
    sentences[which] = edit
    after = split_text(" ".join(sentences), 100)
    assert len(before) == len(after) == len(sentences)
    assert sum(1 for a, b in zip(before, after, strict=True) if a != b) <= 1


# --- rendering with the draft engine -----------------------------------------------------


@pytest.fixture
def long_repo(cast_repo: Path) -> Path:
    script = cast_repo / "ep.txt"
    script.write_text(f"alpha: Hello there.\n[long] beta: {long_text()}\n")
    git(cast_repo, "add", "-A")
    git(cast_repo, "commit", "-qm", "a long line")
    return cast_repo


def test_a_long_line_renders_as_chunks_and_the_lock_records_them(long_repo: Path) -> None:
    result = render(long_repo)
    assert rendered(result) == ["0001", "long"]
    text = long_text()
    expected = split_text(text, ENGINES["draft"].max_chunk_chars)
    assert len(text) >= 3000 and len(expected) >= 10

    lock = check_lock(long_repo)
    entry = next(e for e in lock["entries"] if e["id"] == "long")
    assert entry["chunking"] == {"splitter": 1, "max_chars": 400, "pause_ms": 250}
    chunks = entry["chunks"]
    assert [c["text"] for c in chunks] == expected
    # Offsets: each chunk starts after the one before and the 250 ms pause.
    rate = entry["output"]["sample_rate"]
    pause = round(rate * 0.25)
    for before, after in itertools.pairwise(chunks):
        assert after["offset"] == before["offset"] + before["samples"] + pause
    data = (long_repo / entry["output"]["path"]).read_bytes()
    audio, _ = pcm_of(data)
    assert audio.size == chunks[-1]["offset"] + chunks[-1]["samples"]
    # Each chunk's audio is in the output where the lock says, as its cached file holds it.
    for chunk in chunks:
        cached = (long_repo / "renders" / "ep" / ".chunks" / f"{chunk['key']}.wav").read_bytes()
        assert hashlib.sha256(cached).hexdigest() == chunk["sha256"]
        piece, _ = pcm_of(cached)
        start = chunk["offset"]
        assert (audio[start : start + chunk["samples"]] == piece).all()
    assert sorted(chunk_files(long_repo)) == sorted(f"{c['key']}.wav" for c in chunks)
    # The short line is not split, and says nothing of chunks.
    short = next(e for e in lock["entries"] if e["id"] == "0001")
    assert "chunks" not in short and "chunking" not in short

    status = plan_render(open_project(long_repo), long_repo / "ep.txt")
    step = next(s for s in status.steps if s.line.label == "long")
    assert step.reason == f"up to date ({len(expected)} chunks)"
    assert rendered(render(long_repo)) == []


def test_editing_one_sentence_renders_one_chunk(long_repo: Path) -> None:
    render(long_repo)
    before_files = chunk_files(long_repo)
    before = outputs(long_repo)
    lock = read_lock(long_repo)
    chunks = next(e for e in lock["entries"] if e["id"] == "long")["chunks"]

    script = long_repo / "ep.txt"
    assert "In part 4, " in script.read_text()
    script.write_text(script.read_text().replace("In part 4, ", "In part 4, then "))
    project = open_project(long_repo)
    step = next(s for s in plan_render(project, script).steps if s.line.label == "long")
    assert step.reason == f"changed: text (1 of {len(chunks)} chunks changed)"

    result = render(long_repo)
    assert rendered(result) == ["long"]
    after_files = chunk_files(long_repo)
    new = [name for name, inode in after_files.items() if before_files.get(name) != inode]
    assert len(new) == 1  # one chunk spoken; the others taken from the cache as they were
    assert len(set(before_files) - set(after_files)) == 1  # the edited one's old audio: pruned
    after = outputs(long_repo)
    assert after["long-beta.wav"] != before["long-beta.wav"]
    assert after["0001-alpha.wav"] == before["0001-alpha.wav"]
    check_lock(long_repo)


def test_a_short_line_renders_as_it_did_before_chunking(long_repo: Path) -> None:
    """The same key document and the same bytes as the engine's own audio, written as an
    output: what a render without chunking made, so existing locks stay valid."""
    render(long_repo)
    lock = read_lock(long_repo)
    entry = next(e for e in lock["entries"] if e["id"] == "0001")
    document = key_document(
        engine_id="draft",
        pins=lock["engine"]["pins"],
        reference=lock["references"]["alpha"]["inputs"],
        text="Hello there.",
        params=entry["params"],
    )
    assert "chunking" not in document and cache_key(document) == entry["key"]
    project = open_project(long_repo)
    engine = load_engine("draft", settings=project.config.engines.draft)
    member = plan_render(project, long_repo / "ep.txt").cast.members["alpha"]
    synthesis = engine.synthesize(member.voice, "Hello there.", SynthesisParams(**entry["params"]))
    made = encode_output(synthesis, key=entry["key"], engine_id="draft", draft=True)
    assert (long_repo / entry["output"]["path"]).read_bytes() == made


def test_chunk_settings_are_in_a_split_lines_key_only(long_repo: Path) -> None:
    render(long_repo)
    config = long_repo / "refmgr.toml"
    config.write_text(config.read_text().replace("chunk_pause_ms = 250", "chunk_pause_ms = 400"))
    result = render(long_repo)
    assert rendered(result) == ["long"]  # the pause changed its sound; the short line kept
    new = chunk_files(long_repo)
    lock = check_lock(long_repo)
    entry = next(e for e in lock["entries"] if e["id"] == "long")
    assert sorted(new) == sorted(f"{c['key']}.wav" for c in entry["chunks"])

    config.write_text(config.read_text().replace("chunk_chars = 0", "chunk_chars = 300"))
    render(long_repo)
    entry = next(e for e in check_lock(long_repo)["entries"] if e["id"] == "long")
    assert entry["chunking"]["max_chars"] == 300
    assert all(len(c["text"]) <= 300 for c in entry["chunks"])


def test_hostile_chunk_files_are_never_trusted(long_repo: Path, tmp_path: Path) -> None:
    render(long_repo)
    made = outputs(long_repo)
    lock = read_lock(long_repo)
    chunks = next(e for e in lock["entries"] if e["id"] == "long")["chunks"]
    folder = long_repo / "renders" / "ep" / ".chunks"
    wrong, linked, huge = (folder / f"{chunks[i]['key']}.wav" for i in (1, 3, 5))
    # Wrong audio for its key: a whole, well-formed chunk file of another chunk's samples.
    other, rate = pcm_of((folder / f"{chunks[0]['key']}.wav").read_bytes())
    wrong.write_bytes(
        encode_output(Synthesis(other, rate), key=chunks[1]["key"], engine_id="draft", draft=True)
    )
    assert facts_of(wrong.read_bytes()) is not None
    # A symlink to a file outside the repository (holding the right bytes, even).
    outside = tmp_path / "outside.wav"
    outside.write_bytes(linked.read_bytes())
    linked.unlink()
    linked.symlink_to(outside)
    # A huge file (sparse: no disk used) under the chunk's name.
    with huge.open("r+b") as f:
        f.truncate(100 * 1024 * 1024)
    status = git(long_repo, "status", "--porcelain", "--ignored")
    before = chunk_files(long_repo)

    result = render(long_repo, force=True)
    assert rendered(result) == ["0001", "long"]
    after = chunk_files(long_repo)
    spoken = sorted(name for name, inode in after.items() if before[name] != inode)
    assert spoken == sorted(p.name for p in (wrong, linked, huge))
    assert not linked.is_symlink() and huge.stat().st_size < 10 * 1024 * 1024
    assert outside.read_bytes() == (folder / linked.name).read_bytes()  # left alone
    assert outputs(long_repo) == made  # the same audio as before anything was tampered with
    assert git(long_repo, "status", "--porcelain", "--ignored") == status
    check_lock(long_repo)


def test_a_symlinked_chunk_folder_is_replaced_not_written_through(
    long_repo: Path, tmp_path: Path
) -> None:
    render(long_repo)
    made = outputs(long_repo)
    folder = long_repo / "renders" / "ep" / ".chunks"
    elsewhere = tmp_path / "elsewhere"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere)
    listing = sorted(os.listdir(elsewhere))
    assert rendered(render(long_repo, force=True)) == ["0001", "long"]
    assert folder.is_dir() and not folder.is_symlink()
    assert sorted(os.listdir(elsewhere)) == listing  # nothing read as trusted, nothing written
    assert outputs(long_repo) == made


def test_a_file_in_place_of_the_chunk_folder_is_replaced(long_repo: Path) -> None:
    render(long_repo)
    made = outputs(long_repo)
    folder = long_repo / "renders" / "ep" / ".chunks"
    shutil.rmtree(folder)
    folder.write_bytes(b"not a folder")
    assert rendered(render(long_repo, force=True)) == ["0001", "long"]
    assert folder.is_dir() and outputs(long_repo) == made
    check_lock(long_repo)


def test_a_long_line_warns_once_with_its_label(long_repo: Path) -> None:
    config = long_repo / "refmgr.toml"
    config.write_text(
        config.read_text().replace("warn_line_chars = 1000", "warn_line_chars = 2500")
    )
    proc = run_cli("render", "ep.txt", "--json", cwd=long_repo)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "line long is" in warnings[0], proc.stderr
    assert "render.warn_line_chars = 2500" in warnings[0]
    document = json.loads(proc.stdout)
    assert len(document["warnings"]) == 1
    counts = {line["id"]: line["chunks"] for line in document["lines"]}
    assert counts == {"0001": 0, "long": len(split_text(long_text(), 400))}


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("chunk_chars = 5", "render.chunk_chars must be 0 (the engine's limit) or between 20"),
        ("chunk_pause_ms = -1", "render.chunk_pause_ms must be between 0 and 10000, not -1"),
        ("warn_line_chars = -3", "render.warn_line_chars must be 0 (never warn) or more"),
        (
            "chunk_char = 300",
            "unknown key 'render.chunk_char' (did you mean 'render.chunk_chars'?)",
        ),
    ],
)
def test_bad_chunk_settings_are_one_line_errors(
    long_repo: Path, setting: str, message: str
) -> None:
    config = long_repo / "refmgr.toml"
    name = setting.split(" ")[0]
    text = config.read_text()
    if name in {"chunk_chars", "chunk_pause_ms", "warn_line_chars"}:
        text = re.sub(rf"(?m)^{name} = .*$", setting, text)
    else:
        text = text.replace("[render]\n", f"[render]\n{setting}\n")
    config.write_text(text)
    before = outputs(long_repo) if (long_repo / "renders" / "ep").is_dir() else {}
    proc = run_cli("render", "ep.txt", cwd=long_repo)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refmgr.toml: ") and message in lines[0]
    assert not (long_repo / "renders" / "ep").is_dir() or outputs(long_repo) == before


def test_retake_seed_and_params_reach_every_chunk(long_repo: Path) -> None:
    # A line's own seed is every chunk's seed: the chunk keys follow it.
    script = long_repo / "ep.txt"
    script.write_text(script.read_text().replace("[long] beta:", "[long] beta {seed=3}:"))
    render(long_repo)
    first = next(e for e in read_lock(long_repo)["entries"] if e["id"] == "long")["chunks"]
    script.write_text(script.read_text().replace("{seed=3}", "{seed=4}"))
    render(long_repo)
    second = next(e for e in read_lock(long_repo)["entries"] if e["id"] == "long")["chunks"]
    assert [c["text"] for c in first] == [c["text"] for c in second]
    assert not {c["key"] for c in first} & {c["key"] for c in second}


class Recorded:
    """The real draft engine, as a batch engine that notes each batch it is given and
    fails the texts that contain FAIL (as an engine refuses a line)."""

    def __init__(self, project_root: Path) -> None:
        project = open_project(project_root)
        self.inner = load_engine("draft", settings=project.config.engines.draft)
        self.spec = self.inner.spec
        self.batches: list[list[str]] = []

    def pins(self) -> dict[str, Any]:
        return self.inner.pins()

    def synthesize(self, reference: VoiceReference, text: str, params: SynthesisParams) -> Any:
        if "FAIL" in text:
            raise BackendError(f"refused: {text[:20]}")
        return self.inner.synthesize(reference, text, params)

    def synthesize_many(self, requests: Sequence[LineRequest]) -> Iterator[LineResult]:
        self.batches.append([r.text for r in requests])
        for index, request in reversed(list(enumerate(requests))):  # finishing out of order
            try:
                result: Any = self.synthesize(request.reference, request.text, request.params)
            except BackendError as e:
                result = e
            yield index, result

    def close(self) -> None:
        self.inner.close()


def test_the_uncached_chunks_of_all_lines_go_to_the_engine_in_one_batch(
    cast_repo: Path, tmp_path: Path
) -> None:
    project = open_project(cast_repo)
    voice = plan_render(project, cast_repo / "ep.txt").cast.members["alpha"].voice
    inner = Recorded(cast_repo)
    store = chunk_store(
        tmp_path, tmp_path / "renders", tmp_path / "state", "ep", engine=ENGINES["draft"]
    )
    (tmp_path / "state").mkdir()
    engine = ChunkingEngine(inner, store, Chunking(max_chars=60, pause_ms=100))
    shared = "This sentence is shared by both of the long lines here."
    first = f"The first line opens with a sentence of its own. {shared}"
    second = f"{shared} The second line then closes with another one."
    failing = "A third long line has a sentence that cannot be spoken. It says FAIL here."
    params = DEFAULTS
    twice = f"{shared} {shared}"
    texts = (first, "Short.", second, failing, twice)
    requests = [LineRequest(voice, t, params) for t in texts]
    results = dict(engine.synthesize_many(requests))

    assert sorted(results) == [0, 1, 2, 3, 4]
    # One batch: each distinct chunk once (the shared sentence too), the short line whole.
    (batch,) = inner.batches
    assert sorted(batch) == sorted(
        [
            "The first line opens with a sentence of its own.",
            shared,
            "Short.",
            "The second line then closes with another one.",
            "A third long line has a sentence that cannot be spoken.",
            "It says FAIL here.",
        ]
    )
    assert isinstance(results[3], BackendError)  # only the line with the failing chunk
    assert isinstance(results[1], Synthesis) and not isinstance(results[1], ChunkedSynthesis)
    for index in (0, 2):
        joined = results[index]
        assert isinstance(joined, ChunkedSynthesis) and len(joined.chunks) == 2
    shared_key = results[0].chunks[1].key  # type: ignore[union-attr]
    assert shared_key == results[2].chunks[0].key  # type: ignore[union-attr]
    repeated = results[4]
    assert isinstance(repeated, ChunkedSynthesis)
    assert [c.key for c in repeated.chunks] == [shared_key, shared_key]

    # Again: every chunk that was spoken comes from the store; only the failed one is asked.
    again = dict(engine.synthesize_many(requests))
    assert inner.batches[1] == ["Short.", "It says FAIL here."]
    assert again[0].audio.tobytes() == results[0].audio.tobytes()  # type: ignore[union-attr]


def test_shards_of_a_script_with_a_long_line_merge_into_the_whole_renders_lock(
    long_repo: Path, tmp_path: Path
) -> None:
    whole = tmp_path / "whole"
    shutil.copytree(long_repo, whole, symlinks=True)
    render(whole)
    for k in (1, 2):
        render(long_repo, shard=Shard(k, 2))
    merge_shards(open_project(long_repo), Path("ep.txt"))
    merged = (long_repo / "renders" / "ep.lock.json").read_bytes()
    assert merged == (whole / "renders" / "ep.lock.json").read_bytes()
    assert outputs(long_repo) == outputs(whole)
    assert "chunks" in json.loads(merged)["entries"][1]


def test_shard_bundles_carry_the_chunks_so_the_merged_cache_re_renders_one_chunk(
    long_repo: Path, tmp_path: Path
) -> None:
    """CI: shard jobs render and export, a merge job in a fresh checkout merges the bundles;
    its renders/ (what the CI cache keeps) then holds the split line's chunks, so the next
    run's edit of one sentence speaks one chunk. A bundle's chunk file whose bytes are not
    those its lock records is left behind."""
    from refmgr.commands.render import export_shard

    merge_job = tmp_path / "merge"
    shutil.copytree(long_repo, merge_job, symlinks=True)
    bundles = []
    for k in (1, 2):
        render(long_repo, shard=Shard(k, 2))
        bundle = tmp_path / f"bundle-{k}"
        export_shard(open_project(long_repo), Path("ep.txt"), Shard(k, 2), bundle)
        bundles.append(bundle)
    carried = sorted(chunk_files(long_repo))
    # The long line is in one shard: its bundle alone has chunks.
    (bad,) = [b for b in bundles if (b / "renders" / "ep" / ".chunks").is_dir()]
    (shard_lock,) = (bad / "renders").glob("ep.shard-*-of-2.lock.json")
    entry = next(e for e in json.loads(shard_lock.read_text())["entries"] if e["id"] == "long")
    spoiled = next(c["key"] for c in entry["chunks"] if "In part 7, " not in c["text"])
    tampered = bad / "renders" / "ep" / ".chunks" / f"{spoiled}.wav"
    tampered.write_bytes(tampered.read_bytes()[:-2] + b"\0\0")

    merge_shards(open_project(merge_job), Path("ep.txt"), bundles)
    assert sorted(chunk_files(merge_job)) == [n for n in carried if n != f"{spoiled}.wav"]
    script = merge_job / "ep.txt"
    script.write_text(script.read_text().replace("In part 7, ", "In part 7, then "))
    before = chunk_files(merge_job)
    assert rendered(render(merge_job)) == ["long"]
    new = [n for n, ino in chunk_files(merge_job).items() if before.get(n) != ino]
    assert len(new) == 2  # the edited sentence, and the chunk the bundle's copy could not give
    check_lock(merge_job)


def test_render_status_says_how_many_chunks_changed(long_repo: Path) -> None:
    render(long_repo)
    script = long_repo / "ep.txt"
    script.write_text(script.read_text().replace("In part 2, ", "In part 2, then "))
    script.write_text(script.read_text().replace("In part 9, ", "In part 9, then "))
    proc = run_cli("render", "status", "ep.txt", cwd=long_repo)
    row = next(line for line in proc.stdout.splitlines() if " long " in line)
    count = len(split_text(long_text(), 400))
    assert row.split()[0] == "render" and row.endswith(f"(2 of {count} chunks changed)"), row


def test_a_lexicon_entry_re_renders_only_the_chunk_that_says_it(long_repo: Path) -> None:
    script = long_repo / "ep.txt"
    script.write_text(script.read_text().replace("In part 5, ", "In part 5, Nguyen saw "))
    lexicon = 'lexicon_version = 1\n\n[global]\nNguyen = "Win"\n'
    (long_repo / "lexicon.toml").write_text(lexicon)
    render(long_repo)
    before = chunk_files(long_repo)
    entry = next(e for e in read_lock(long_repo)["entries"] if e["id"] == "long")
    assert entry["lexicon"] == {"Nguyen": {"scope": "global", "say": "Win"}}
    # The chunks hold the text as spoken: the lexicon applied.
    assert any("Win saw" in c["text"] for c in entry["chunks"])

    (long_repo / "lexicon.toml").write_text(lexicon.replace('"Win"', '"Wynn"'))
    assert rendered(render(long_repo)) == ["long"]
    after = chunk_files(long_repo)
    assert len([n for n, ino in after.items() if before.get(n) != ino]) == 1
    check_lock(long_repo)
