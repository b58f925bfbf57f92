"""`add` judges a recording by its kind, size and header before reading it, and refuses
bytes its container does not account for; `--text-file` is read the same capped way."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from refmgr.audio import byte_ceiling
from refmgr.config import Limits
from tests.support.cli import run_cli
from tests.support.helpers import RecordingFactory, one_line_error, snapshot


def refused(repo: Path, args: list[str], *needles: str) -> None:
    before = snapshot(repo)
    # A timeout: reading a FIFO (as refmgr once did) would wait for a writer forever.
    proc = subprocess.run(
        [sys.executable, "-m", "refmgr", "add", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert one_line_error(proc.stderr, *needles), proc.stderr
    assert snapshot(repo) == before


def padded(good: Path, tmp_path: Path, junk: bytes) -> Path:
    path = tmp_path / f"padded{good.suffix}"
    shutil.copyfile(good, path)
    with open(path, "ab") as f:
        f.write(junk)
    return path


def test_wav_with_trailing_junk_is_refused(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    good = recording("good.wav", seconds=5.0)
    bad = padded(good, tmp_path, b"\0" * 100_000)
    refused(voice_repo, [str(bad), "--text", "x"], "padded.wav", "100000 bytes of trailing data")


def test_wav_of_unknown_size_with_trailing_junk_is_refused(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    """A streaming writer leaves the RIFF size unknown: the chunk walk still finds the junk."""
    good = recording("good.wav", seconds=5.0)
    data = bytearray(good.read_bytes())
    data[4:8] = struct.pack("<I", 0xFFFFFFFF)
    unknown = tmp_path / "stream.wav"
    unknown.write_bytes(bytes(data) + b"\x01\x02\x03" * 1000)
    refused(voice_repo, [str(unknown), "--text", "x"], "stream.wav", "trailing data")


def test_wav_with_a_metadata_chunk_after_its_samples_is_accepted(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    good = recording("tagged.wav", seconds=5.0)
    data = bytearray(good.read_bytes())
    info = b"INFO" + b"INAM" + struct.pack("<I", 6) + b"Alpha\0"
    data += b"LIST" + struct.pack("<I", len(info)) + info
    data[4:8] = struct.pack("<I", len(data) - 8)
    good.write_bytes(bytes(data))
    proc = run_cli("add", good, "--text", "Tagged.")
    assert proc.returncode == 0, proc.stderr


def test_flac_with_megabytes_of_trailing_junk_is_refused(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path
) -> None:
    good = recording("good.flac", seconds=4.0, sample_rate=16000)
    bad = padded(good, tmp_path, b"\0" * (20 << 20))
    refused(voice_repo, [str(bad), "--text", "x"], "padded.flac", "trailing data after the audio")


def test_recording_over_the_byte_ceiling_is_refused_unread(
    voice_repo: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(byte_ceiling(Limits()) + 1)
    refused(voice_repo, [str(big), "--text", "x"], "big.wav", "over the limit", "max_duration_s")


def test_a_directory_and_a_socket_are_refused(voice_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "adir.wav").mkdir()
    refused(voice_repo, [str(tmp_path / "adir.wav"), "--text", "x"], "is a directory")
    path = tmp_path / "sock.wav"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        refused(voice_repo, [str(path), "--text", "x"], "sock.wav", "not a regular file (a socket)")


@pytest.mark.parametrize("kind", ["fifo", "huge", "directory"])
def test_text_file_is_read_capped(
    voice_repo: Path, recording: RecordingFactory, tmp_path: Path, kind: str
) -> None:
    rec = recording("alpha.wav", seconds=5.0)
    text = tmp_path / "alpha.lab"
    if kind == "fifo":
        import os

        os.mkfifo(text)
        needle = "not a regular file (a FIFO)"
    elif kind == "huge":
        text.write_text("word " * 100_000)
        needle = "over the limit of 65536 bytes for a transcript file (500000 bytes)"
    else:
        text.mkdir()
        needle = "is a directory, not a transcript file"
    refused(voice_repo, [str(rec), "--text-file", str(text)], "alpha.lab", needle)
