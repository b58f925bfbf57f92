"""The script format, and where its errors point."""

from __future__ import annotations

from pathlib import Path

import pytest

from refmgr.render.script import ScriptError, parse_script


def parse(text: str | bytes) -> list[tuple[str, str, str, dict[str, float]]]:
    raw = text.encode() if isinstance(text, str) else text
    return [
        (x.stem, x.character, x.text, x.overrides) for x in parse_script(raw, Path("s.txt")).lines
    ]


def test_format() -> None:
    assert parse(
        "\ufeff# comment\r\n"
        "\n"
        "alpha:   Hello,   world.  \r\n"
        "   # indented comment\n"
        "[intro-02]   Beta {seed=7, temperature=0.5, gap=1.5} : Second: with a colon.\n"
        "alpha{top_p=1}:Tight.\n"
        "\tbeta: Tabbed.\n"
    ) == [
        ("0001-alpha", "alpha", "Hello, world.", {}),
        (
            "intro-02-beta",
            "beta",
            "Second: with a colon.",
            {"seed": 7, "temperature": 0.5, "gap": 1.5},
        ),
        ("0003-alpha", "alpha", "Tight.", {"top_p": 1.0}),
        ("0004-beta", "beta", "Tabbed.", {}),
    ]


def test_line_numbers_and_indices() -> None:
    script = parse_script(b"# c\nalpha: a\n\n[x] beta: b\nalpha: c\n", Path("ep.txt"))
    assert [(x.index, x.line, x.label) for x in script.lines] == [
        (1, 2, "0001"),
        (2, 4, "x"),
        (3, 5, "0003"),
    ]
    assert script.name == "ep"


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (b"alpha: ok\n\xff\n", "2:1", "not UTF-8 text (invalid byte 0xff)"),
        (b"alpha: ok\n  \xc3\xa9t\xc3\xa9 \xe9\n", "2:7", "not UTF-8 text (invalid byte 0xe9)"),
        ("alpha ok", "1:1", "expected 'NAME: text'"),
        (": text", "1:1", "expected 'NAME: text'"),
        ("[intro alpha: x", "1:1", "unclosed '[' of a line id"),
        ("[] alpha: x", "1:2", "invalid line id ''"),
        ("[01] alpha: x", "1:2", "invalid line id '01'"),  # numbers name lines without ids
        ("alpha {seed=1: x", "1:7", "unclosed '{'"),
        ("alpha {seed=1} x", "1:16", "expected ':' and the text after the overrides"),
        ("alpha {seed=1,}: x", "1:15", "empty override"),
        ("alpha {seed}: x", "1:8", "expected key=value, not 'seed'"),
        ("alpha {seed=1, seed=2}: x", "1:16", "override 'seed' given twice"),
        ("alpha {top_p=1.5}: x", "1:8", "top_p must be above 0 and at most 1"),
        ("alpha {gap=-1}: x", "1:8", "gap must be between 0 and 60 seconds, not -1"),
        ("alpha {gap=1e12}: x", "1:8", "gap must be between 0 and 60 seconds, not 1e12"),
        ("alpha {gap=1e300}: x", "1:8", "gap must be between 0 and 60 seconds"),
        ("alpha {temperature=nan}: x", "1:8", "temperature must be a finite number"),
        ("alpha {max_new_tokens=0}: x", "1:8", "max_new_tokens must be at least 1"),
        ("alpha:", "1:6", "empty text after 'alpha:'"),
        (
            "[a-b] c: one\n[a] b-c: two",
            "2:2",
            "output name 'a-b-c' is also that of line 1: both would write a-b-c.wav",
        ),
        (
            "[Intro] b-c: one\n# c\n[intro-b] C: two",
            "3:2",
            "output name 'intro-b-c' is also that of line 1",
        ),
        (
            "[x] al: one\n[x-al] pha: two\n[x] al-pha: three",
            "3:2",
            "duplicate line id 'x'",
        ),
        ("alpha: a\u0007b", "1:9", "control character U+0007"),
    ],
)
def test_errors_point_at_the_problem(text: str | bytes, where: str, problem: str) -> None:
    raw = text.encode() if isinstance(text, str) else text
    with pytest.raises(ScriptError) as info:
        parse_script(raw, Path("ep.txt"))
    assert str(info.value).startswith(f"ep.txt:{where}: {problem}"), str(info.value)


def test_file_names_that_cannot_name_a_folder() -> None:
    with pytest.raises(Exception, match="script file names must use"):
        parse_script(b"alpha: x", Path("my episode.txt"))
