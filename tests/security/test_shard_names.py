"""F11: renders/NAME.shard-K-of-N.lock.json are the locks of a sharded render, and git
ignores them. A script whose own lock would look like one (ep.shard-1-of-2.txt) is refused
by name, so its lock is never ignored and never taken for a shard of ep.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import assert_refused, clone, refmgr

pytest_plugins = ["tests.support.voice_fixtures"]

LINES = "alpha: Good evening.\nalpha: The lamp is lit.\n"


@pytest.mark.parametrize("name", ["ep.shard-1-of-2", "ep.shard-2-of-2", "take.shard-x-of-y.v2"])
def test_a_script_named_like_a_shard_lock_is_refused(
    repo: Path, env: dict[str, str], name: str
) -> None:
    (repo / "ep.txt").write_text(LINES)
    (repo / f"{name}.txt").write_text(LINES)
    root = clone(repo, env)
    for args in (["render", f"{name}.txt"], ["render", "status", f"{name}.txt"]):
        assert_refused(refmgr(root, *args), f"{name}.txt: ", ".shard-")
    assert not (root / "renders").exists()
    # ep.txt's shards and their merge are not disturbed
    for shard in ("1/2", "2/2"):
        proc = refmgr(root, "render", "ep.txt", "--shard", shard)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    merged = refmgr(root, "render", "merge", "ep.txt")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert (root / "renders" / "ep.lock.json").is_file()
