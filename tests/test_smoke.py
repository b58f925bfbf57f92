from __future__ import annotations

from pathlib import Path

from tests.helpers import RecordingFactory, run_cli


def test_add_ls_show_decode(voice_repo: Path, recording: RecordingFactory) -> None:
    rec = recording("alpha.wav", seconds=12.0)
    proc = run_cli("add", rec, "--text", "The quick brown fox.")
    assert proc.returncode == 0, proc.stderr
    assert (voice_repo / "refs" / "alpha.npy").is_file()
    assert run_cli("ls").returncode == 0
    assert run_cli("show", "alpha").returncode == 0
    out = voice_repo.parent / "out.wav"
    assert run_cli("decode", "alpha", "-o", out).returncode == 0
    assert out.stat().st_size > 1000
