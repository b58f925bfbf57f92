"""lexicon.toml's rules: matching, precedence, checks of an untrusted file, lexicon check,
and the commit hook's validation of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from refmgr.deliver.lexicon import Lexicon, LexiconError, parse_lexicon
from tests.support.cli import run_cli
from tests.support.helpers import git, one_line_error

GOOD = b"""\
lexicon_version = 1

[global]
Nguyen = "Win"
"Dr." = "Doctor"
"New York" = "Noo York"
"New York City" = "the big apple"
NASA = { say = "nassa", match_case = true }
Siobhan = { say = "Shivawn", phonemes = "S@v'O:n" }

[language.fr]
Nguyen = "Nguy-enne"

[character.Alpha]
Nguyen = "Nuh-win"
"""


def lexicon(data: bytes = GOOD) -> Lexicon:
    return parse_lexicon(data, Path("lexicon.toml"))


def say(text: str, character: str = "beta", language: str | None = "en-US") -> str:
    return lexicon().apply(text, character, language, phonemes=False).text


def test_whole_words_any_case_unless_match_case() -> None:
    assert say("Ask nguyen, NGUYEN and Nguyen.") == "Ask Win, Win and Win."
    assert say("Nguyens and xNguyen stay.") == "Nguyens and xNguyen stay."
    assert say("NASA, not nasa.") == "nassa, not nasa."
    assert say("Dr. Who; Dr.No") == "Doctor Who; DoctorNo"


def test_longest_phrase_wins_and_whitespace_runs_match() -> None:
    assert say("In New  York City and New York.") == "In the big apple and Noo York."


def test_character_then_language_then_global() -> None:
    assert say("Nguyen", "alpha") == "Nuh-win"  # [character.Alpha] is alpha
    assert say("Nguyen", "beta", "fr-CA") == "Nguy-enne"
    assert say("Nguyen", "beta", None) == "Win"


def test_phonemes_for_the_engine_that_takes_them() -> None:
    applied = lexicon().apply("Siobhan.", "beta", None, phonemes=True)
    assert applied.text == "[[S@v'O:n]]."
    assert [e.word for e in applied.matched] == ["Siobhan"]
    assert lexicon().apply("Siobhan.", "beta", None, phonemes=False).text == "Shivawn."


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"[global]\nA = 'b'\n", "lexicon_version must be 1 (found None)"),
        (b"lexicon_version = 1\n[global\n", "invalid TOML"),
        (b"lexicon_version = 1\n\xff = 1\n", "not UTF-8 text"),
        (b"lexicon_version = 1\n[words]\nA = 'b'\n", "unknown table or key 'words'"),
        (b"lexicon_version = 1\n[global]\nA = 3\n", "[global] 'A': give a respelling"),
        (b"lexicon_version = 1\n[global]\nA = {sound = 'b'}\n", "unknown key 'sound'"),
        (b"lexicon_version = 1\n[global]\nA = {match_case = true}\n", "give say = "),
        (b"lexicon_version = 1\n[global]\nA = '[[x]]'\n", "without [[ or ]]"),
        (b"lexicon_version = 1\n[global]\nA = {phonemes = 'a]]b'}\n", "eSpeak mnemonics"),
        (b"lexicon_version = 1\n[global]\n'' = 'b'\n", "1 to 200 characters"),
        (b"lexicon_version = 1\n[character.'../x']\nA = 'b'\n", "not a valid character"),
        (b"lexicon_version = 1\n[global]\nA = {say = 'b', match_case = 1}\n", "true or false"),
        # the bombs refmgr.toml is guarded against (tests/security/test_config_bombs.py)
        (b"lexicon_version = 1\nx = " + b"7" * 5000 + b"\n", "integer with too many digits"),
        (b"lexicon_version = 1\nx = " + b"[" * 1000 + b"]" * 1000 + b"\n", "nested too deeply"),
        (b"lexicon_version = 1\nx = " + b"{a = " * 400 + b"1" + b"}" * 400, "nested too deeply"),
    ],
)
def test_bad_files_are_one_line_errors(data: bytes, problem: str) -> None:
    with pytest.raises(LexiconError) as raised:
        parse_lexicon(data, Path("lexicon.toml"))
    message = str(raised.value)
    assert message.startswith("lexicon.toml: ") and problem in message
    assert "\n" not in message


def test_the_size_cap_holds_before_parsing(cast_repo: Path) -> None:
    (cast_repo / "lexicon.toml").write_bytes(b"lexicon_version = 1\n#" + b"x" * 1_000_001)
    proc = run_cli("render", "status", "ep.txt")
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "lexicon.toml: over the limit of 1000000 bytes")
    (cast_repo / "lexicon.toml").unlink()
    (cast_repo / "lexicon.toml").symlink_to("/dev/zero")
    proc = run_cli("render", "status", "ep.txt")
    assert proc.returncode == 1 and one_line_error(proc.stderr, "lexicon.toml: not a regular")


def test_phoneme_only_entries_fail_lines_for_text_only_engines(cast_repo: Path) -> None:
    import dataclasses

    from refmgr.backends.registry import ENGINES
    from refmgr.commands.render import plan_render
    from refmgr.project import open_project
    from refmgr.render.plan import Action

    assert ENGINES["draft"].phonemes == "espeak"
    assert all(ENGINES[e].phonemes is None for e in ENGINES if e != "draft")
    (cast_repo / "lexicon.toml").write_text(
        'lexicon_version = 1\n[global]\nlamp = { phonemes = "l\'amp" }\n'
    )
    plan = plan_render(open_project(cast_repo), cast_repo / "ep.txt")
    assert (
        plan.steps[0].action is Action.RENDER
        and plan.steps[0].spoken == "The [[l'amp]] is lit and the sea is calm tonight."
    )
    # The same entry, for an engine that reads text only (the draft engine's spec without
    # its phonemes, as the fish engines have it): that line fails, the others render.
    from refmgr.deliver.lexicon import load_lexicon
    from refmgr.render.plan import make_plan

    text_only = dataclasses.replace(ENGINES["draft"], phonemes=None)
    project = open_project(cast_repo)
    again = make_plan(
        project,
        plan.script,
        plan.cast,
        engine=text_only,
        pins=plan.pins,
        settings=project.config.render,
        lexicon=load_lexicon(cast_repo),
    )
    failed = [s for s in again.steps if s.action is Action.FAILED]
    assert [s.line.label for s in failed] == ["0001"]
    assert failed[0].reason == (
        "lexicon.toml: [global] 'lamp' has only phonemes, and engine draft takes text: "
        "give it say = ... (line 0001)"
    )


def test_lexicon_check_reports_unused_duplicate_and_conflicting(cast_repo: Path) -> None:
    (cast_repo / "lexicon.toml").write_text(
        "lexicon_version = 1\n[global]\nlamp = 'lamb'\nLamp = 'lamp'\nghost = 'boo'\n"
        "ship = 'sheep'\nSHIP = 'sheep'\n[character.beta]\nship = 'sheep'\n"
    )
    proc = run_cli("lexicon", "check", "ep.txt", "--json")
    assert proc.returncode == 1, proc.stderr
    found = {(f["entry"], f["problem"]) for f in json.loads(proc.stdout)["findings"]}
    assert found == {
        ("[global] 'ghost'", "matches no line of the scripts checked"),
        # Only beta says "ship", and beta's own entry wins.
        ("[global] 'ship'", "matches no line of the scripts checked"),
        ("[global] 'Lamp'", "conflicting with [global] 'lamp'"),
        ("[global] 'SHIP'", "duplicate (says the same) with [global] 'ship'"),
        ("[character.beta] 'ship'", "duplicate of the wider entry it shadows with [global] 'ship'"),
    }
    (cast_repo / "lexicon.toml").write_text("lexicon_version = 1\n[global]\nlamp = 'lamb'\n")
    assert run_cli("lexicon", "check", "ep.txt").returncode == 0
    proc = run_cli("lexicon", "check")  # no script given and no render lock yet
    assert proc.returncode == 1 and one_line_error(proc.stderr, "no script to check against")
    assert run_cli("render", "ep.txt").returncode == 0
    proc = run_cli("lexicon", "check")  # the scripts of the render locks
    assert proc.returncode == 0, proc.stderr
    assert "lexicon.toml: 1 entries, 0 findings, 5 lines of 1 scripts" in proc.stdout


def test_the_commit_hook_validates_the_staged_lexicon(cast_repo: Path) -> None:
    (cast_repo / "lexicon.toml").write_text("lexicon_version = 1\n[global]\nA = 3\n")
    git(cast_repo, "add", "lexicon.toml")
    proc = run_cli("validate", "--staged", "--", "lexicon.toml")
    assert proc.returncode == 1
    assert (
        "lexicon.toml: [global] 'A': give a respelling string or a table"
        in proc.stdout + proc.stderr
    )
    (cast_repo / "lexicon.toml").write_text("lexicon_version = 1\n[global]\nA = 'ay'\n")
    # The index still holds the bad one: the hook checks what is committed.
    assert run_cli("validate", "--staged").returncode == 1
    git(cast_repo, "add", "lexicon.toml")
    proc = run_cli("validate", "--staged", "--", "lexicon.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_toml_bomb_in_the_lexicon_is_a_finding_not_a_crash(cast_repo: Path) -> None:
    (cast_repo / "lexicon.toml").write_bytes(b"lexicon_version = 1\nx = " + b"[" * 5000)
    proc = run_cli("validate")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # not 3, a bug
    assert proc.stdout.strip() == "lexicon.toml: invalid TOML: arrays or tables nested too deeply"


def test_validating_imports_nothing_heavy(cast_repo: Path) -> None:
    (cast_repo / "lexicon.toml").write_text("lexicon_version = 1\n[global]\nA = 'ay'\n")
    code = (
        "import sys; from refmgr.commands.validate import validate_repository; "
        "r = validate_repository(); assert not r.findings, r.findings; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('scipy', 'pyloudnorm', 'torch', 'soundfile')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_say_uses_the_lexicon_too(cast_repo: Path) -> None:
    import soundfile

    (cast_repo / "lexicon.toml").write_text(
        "lexicon_version = 1\n[character.alpha]\nNguyen = 'Win'\n"
    )
    assert run_cli("say", "alpha", "Ask Nguyen.", "-o", "../a.wav").returncode == 0
    assert run_cli("say", "alpha", "Ask Win.", "-o", "../b.wav").returncode == 0
    assert run_cli("say", "beta", "Ask Nguyen.", "-o", "../c.wav").returncode == 0
    assert run_cli("say", "beta", "Ask Win.", "-o", "../d.wav").returncode == 0
    a, b, c, d = (soundfile.read(cast_repo.parent / f"{n}.wav")[0] for n in "abcd")
    assert a.shape == b.shape and (a == b).all()
    assert c.shape != d.shape or not (c == d).all()  # beta has no entry
