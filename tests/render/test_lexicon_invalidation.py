"""lexicon.toml: applied before synthesis; one edited entry re-renders exactly its lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from tests.support.cli import run_cli
from tests.support.render import outputs, render, rendered

NAME_LINES = (10, 50, 90, 130, 170, 210, 250)  # the 7 lines that say "Nguyen"
LEXICON = """\
lexicon_version = 1

[global]
Nguyen = "Win"
Zed = { say = "Zee", phonemes = "z'i:" }
"""


def _script(root: Path) -> None:
    lines = []
    for n in range(1, 301):
        who = "alpha" if n % 2 else "beta"
        if n in NAME_LINES:
            text = f"Line {n}, ask nguyen." if n == 90 else f"Line {n}, ask Nguyen."
        elif n == 299:
            text = "Line 299, ask Nguyens and Zed."  # Nguyens: not the word Nguyen
        else:
            text = f"Line {n}."
        lines.append(f"{who}: {text}")
    (root / "ep.txt").write_text("\n".join(lines) + "\n")


def test_one_entry_edited_renders_exactly_its_seven_lines(cast_repo: Path) -> None:
    _script(cast_repo)
    (cast_repo / "lexicon.toml").write_text(LEXICON)
    assert len(rendered(render(cast_repo))) == 300
    before = outputs(cast_repo)
    lock = json.loads((cast_repo / "renders" / "ep.lock.json").read_text())
    with_lexicon = {e["id"]: e["lexicon"] for e in lock["entries"] if "lexicon" in e}
    assert sorted(with_lexicon) == sorted([f"{n:04d}" for n in NAME_LINES] + ["0299"])
    assert with_lexicon["0050"] == {"Nguyen": {"scope": "global", "say": "Win"}}
    # The draft engine takes phonemes: Zed is said with them, its say is not in the key.
    assert with_lexicon["0299"] == {"Zed": {"scope": "global", "phonemes": "z'i:"}}

    (cast_repo / "lexicon.toml").write_text(LEXICON.replace('"Win"', '"Wynn"'))
    status = run_cli("render", "status", "ep.txt", "--json")
    assert status.returncode == 0, status.stderr
    plan = json.loads(status.stdout)
    stale = {s["id"]: s["reason"] for s in plan["lines"] if s["action"] != "keep"}
    assert sorted(stale) == [f"{n:04d}" for n in NAME_LINES]
    assert set(stale.values()) == {"changed: lexicon.Nguyen.say"}
    text = run_cli("render", "status", "ep.txt").stdout
    assert "render  0250  beta       changed: lexicon.Nguyen.say" in text

    again = render(cast_repo)
    assert rendered(again) == [f"{n:04d}" for n in NAME_LINES]
    after = outputs(cast_repo)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == sorted(f"{n:04d}-{'alpha' if n % 2 else 'beta'}.wav" for n in NAME_LINES)
    # Applied before synthesis: "ask Nguyen" is said as "ask Wynn", not as written.
    said, _ = soundfile.read(cast_repo / "renders" / "ep" / "0250-beta.wav", dtype="int16")
    assert np.array_equal(said, render_text(cast_repo, "Line 250, ask Wynn.", "beta"))
    assert not np.array_equal(said, render_text(cast_repo, "Line 250, ask Nguyen.", "beta"))

    # An entry edited in the field the engine does not use renders nothing.
    (cast_repo / "lexicon.toml").write_text(
        LEXICON.replace('"Win"', '"Wynn"').replace('"Zee"', '"Zedd"')
    )
    assert rendered(render(cast_repo)) == []


def render_text(root: Path, text: str, character: str) -> np.ndarray:
    """What the draft engine says for ``text`` in ``character``'s voice, without a lexicon."""
    from refmgr.backends.registry import load_engine
    from refmgr.params import with_overrides
    from refmgr.project import open_project
    from refmgr.reference import load_reference, voice_reference

    project = open_project(root)
    engine = load_engine("draft", settings=project.config.engines.draft)
    voice = voice_reference(project, load_reference(project, character))
    synthesis = engine.synthesize(voice, text, with_overrides(project.config.render, {}))
    return np.round(np.clip(synthesis.audio, -1, 1) * 32767).astype(np.int16)
