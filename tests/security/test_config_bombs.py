"""F5: a refmgr.toml a clone brings can hold values that crash a TOML or number parser: an
integer of more than 4,300 digits, inline tables nested 400 deep, an integer beyond float
range in a float field, an integer no index fits. Every one is a one-line
``refmgr.toml: problem`` and exit 1, for every command, validate and the hook included."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import assert_refused, clone, refmgr

pytest_plugins = ["tests.support.voice_fixtures"]

BOMBS = {
    "long-integer": ("seed = 0", "seed = " + "7" * 5000),
    "deep-inline-tables": ("[limits]", "bomb = " + "{a = " * 400 + "1" + "}" * 400 + "\n[limits]"),
    "deep-arrays": ("[limits]", "bomb = " + "[" * 1000 + "]" * 1000 + "\n[limits]"),
    "int-beyond-float": ("gap_s = 0.5", "gap_s = 1" + "0" * 400),
    "int-beyond-64-bits": ("max_token_bytes = 1048576", "max_token_bytes = " + "9" * 30),
    "huge-token-limit": ("max_token_bytes = 1048576", "max_token_bytes = 9223372036854775807"),
    "huge-max-new-tokens": ("max_new_tokens = 1024", "max_new_tokens = " + "9" * 25),
}
COMMANDS = [
    ["validate"],
    ["validate", "--staged"],
    ["ls"],
    ["show", "alpha"],
    ["status"],
    ["render", "ep.txt"],
    ["render", "status", "ep.txt"],
    ["no-raw-audio", "--staged"],
]


@pytest.mark.parametrize("bomb", BOMBS, ids=list(BOMBS))
def test_every_command_refuses_the_config_in_one_line(
    repo: Path, env: dict[str, str], bomb: str
) -> None:
    old, new = BOMBS[bomb]
    config = repo / "refmgr.toml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    (repo / "ep.txt").write_text("alpha: Hello there.\n")
    root = clone(repo, env)
    for args in COMMANDS:
        proc = refmgr(root, *args)
        if args[0] in ("validate", "no-raw-audio"):  # findings go to stdout, as path: problem
            lines = [line for line in proc.stdout.splitlines() if line.strip()]
            assert proc.returncode == 1, (args, proc.stdout + proc.stderr)
            assert len(lines) == 1 and lines[0].startswith("refmgr.toml: "), (args, proc.stdout)
            assert len(lines[0]) < 300 and not proc.stderr.strip(), (args, proc.stderr)
        else:
            assert_refused(proc, "refmgr.toml: ")
            assert len(proc.stderr) < 300, proc.stderr
