"""A killed or concurrent `refmgr add` never leaves a partial or inconsistent reference."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from refmgr.project import open_project
from refmgr.reference import load_reference, read_codes
from tests.support.cli import run_cli, run_process
from tests.support.helpers import RecordingFactory, git

FAILPOINTS_BEFORE_COMMIT = ["before-temp", "before-journal"]
FAILPOINTS_AFTER_COMMIT = ["after-journal", "after-rename", "before-journal-delete"]


def state_of(root: Path, name: str) -> str | None:
    """None if the reference is absent; its source sha256 if it is complete and consistent."""
    manifest = root / "manifests" / f"{name}.json"
    tokens = root / "refs" / f"{name}.npy"
    if not manifest.exists():
        assert not tokens.exists(), "token file without its manifest"
        return None
    project = open_project(root)
    ref = load_reference(project, name)
    read_codes(project, ref)  # sha256, dtype, shape and ranges all match the manifest
    return str(ref.manifest.data["source"]["sha256"])


def visible_changes(root: Path) -> str:
    return git(root, "status", "--porcelain", "--untracked-files=all")


@pytest.fixture
def committed_repo(voice_repo: Path) -> Path:
    git(voice_repo, "add", "-A")
    git(voice_repo, "commit", "-qm", "init")
    return voice_repo


@pytest.mark.parametrize("failpoint", FAILPOINTS_BEFORE_COMMIT + FAILPOINTS_AFTER_COMMIT)
def test_kill_at_each_step_of_add(
    failpoint: str, committed_repo: Path, recording: RecordingFactory
) -> None:
    rec = recording("alpha.wav", seconds=4.0)
    proc = run_process("add", rec, "--text", "x", env={"REFMGR_FAILPOINT": failpoint})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if failpoint in FAILPOINTS_BEFORE_COMMIT:
        # Killed before the commit point: nothing visible to git, whatever temporaries remain.
        assert visible_changes(committed_repo) == ""
    assert run_cli("recover").returncode == 0  # finishes or discards the change
    expected = None if failpoint in FAILPOINTS_BEFORE_COMMIT else state_of_source(rec)
    assert state_of(committed_repo, "alpha") == expected
    assert not list(committed_repo.glob("refs/.*")) and not list(
        committed_repo.glob("manifests/.*")
    )
    assert not (committed_repo / ".refmgr" / "journal.json").exists()


@pytest.mark.parametrize("failpoint", FAILPOINTS_BEFORE_COMMIT + FAILPOINTS_AFTER_COMMIT)
def test_kill_during_force_replace_gives_old_or_new(
    failpoint: str, committed_repo: Path, recording: RecordingFactory
) -> None:
    old = recording("old.wav", seconds=4.0)
    assert run_cli("add", old, "--name", "alpha", "--text", "old").returncode == 0
    new = recording("new.wav", seconds=5.0)
    proc = run_process(
        "add",
        new,
        "--name",
        "alpha",
        "--text",
        "new",
        "--force",
        env={"REFMGR_FAILPOINT": failpoint},
    )
    assert proc.returncode == -signal.SIGKILL
    run_cli("recover")
    expected = old if failpoint in FAILPOINTS_BEFORE_COMMIT else new
    assert state_of(committed_repo, "alpha") == state_of_source(expected)


def test_kill_at_random_moments(committed_repo: Path, recording: RecordingFactory) -> None:
    recs = [recording(f"r{i}.wav", seconds=8.0) for i in range(2)]
    for rec in recs:
        rec.with_suffix(".lab").write_text("words")
    started = time.monotonic()  # the time a whole add takes as a process, start-up included
    assert run_process("add", *recs).returncode == 0
    full = time.monotonic() - started
    assert run_cli("rm", "r0", "r1").returncode == 0
    rng = random.Random(1234)
    outcomes = set()
    # Kill times spread from the start to past the end of a whole add, jittered.
    for step in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "refmgr", "add", *map(str, recs)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(full * (0.05 + 0.2 * step) * rng.uniform(0.9, 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run_cli("recover")
        states = [state_of(committed_repo, f"r{i}") for i in range(2)]
        # Both recordings are one change: both there or neither.
        assert (states[0] is None) == (states[1] is None)
        outcomes.add(states[0] is not None)
        if states[0] is not None:
            assert run_cli("rm", "r0", "r1").returncode == 0
    # Killed early, nothing landed; killed late, everything did.
    assert outcomes == {False, True}
    assert visible_changes(committed_repo) == ""


def state_of_source(rec: Path) -> str:
    import hashlib

    return hashlib.sha256(rec.read_bytes()).hexdigest()


def test_eight_concurrent_adds_of_different_names_all_land(
    voice_repo: Path, recording: RecordingFactory
) -> None:
    recs = [recording(f"c{i}.wav", seconds=4.0 + i / 10) for i in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "refmgr", "add", str(rec), "--text", f"voice {i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, rec in enumerate(recs)
    ]
    results = [(p.wait(), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    for i, rec in enumerate(recs):
        assert state_of(voice_repo, f"c{i}") == state_of_source(rec)


def test_eight_concurrent_adds_of_one_name_one_wins(
    voice_repo: Path, recording: RecordingFactory
) -> None:
    recs = [recording(f"s{i}.wav", seconds=4.0 + i / 10) for i in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "refmgr", "add", str(rec), "--name", "same", "--text", "x"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rec in recs
    ]
    results = [(p.wait(), p.stderr.read() if p.stderr else "") for p in procs]
    winners = [i for i, (rc, _) in enumerate(results) if rc == 0]
    assert len(winners) == 1, results
    for i, (rc, err) in enumerate(results):
        if i != winners[0]:
            assert rc == 1
            assert err.strip() == (
                "reference 'same' already exists (manifests/same.json); use --force to replace it"
            ), err
    assert state_of(voice_repo, "same") == state_of_source(recs[winners[0]])
    assert sorted(os.listdir(voice_repo / "refs")) == ["same.npy"]


def test_kill_before_the_first_pin_lands_leaves_no_temporary_beside_the_config(
    committed_repo: Path, recording: RecordingFactory
) -> None:
    # A repository whose codec is not pinned yet: the first add also rewrites refmgr.toml.
    config = committed_repo / "refmgr.toml"
    text = config.read_text()
    config.write_text(text[: text.index("[codecs.pins.")] + text[text.index("[limits]") :])
    git(committed_repo, "commit", "-qam", "unpinned")
    rec = recording("alpha.wav", seconds=4.0)
    proc = run_process("add", rec, "--text", "x", env={"REFMGR_FAILPOINT": "before-journal"})
    assert proc.returncode == -signal.SIGKILL
    assert list(committed_repo.glob(".refmgr.toml.*.tmp"))  # the temporary is there...
    assert visible_changes(committed_repo) == ""  # ...but git does not see it
    assert run_cli("recover").returncode == 0
    assert not list(committed_repo.glob(".refmgr.toml.*.tmp"))
    assert (
        config.read_bytes()
        == (text[: text.index("[codecs.pins.")] + text[text.index("[limits]") :]).encode()
    )
