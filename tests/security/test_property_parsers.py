"""The three parsers a repository controls (refmgr.toml, manifests, scripts) never crash a
command: whatever a clone's file holds, validate, ls, show, status and render status exit
0 or 1 (2 for usage), never 3, and print no traceback.

The inputs are structured mutations (a valid file with one value replaced by a hostile one:
huge integers, deep nesting, lone surrogates, wrong types, NUL bytes, long strings, invalid
UTF-8), not only random text. The CLI runs in-process (``refmgr.cli.main``) so that each
parser gets a meaningful number of examples; one example per parser also runs as a process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refmgr.cli import main
from tests.support.cli import run_cli
from tests.support.hostile import clone

pytest_plugins = ["tests.support.voice_fixtures"]

PROPERTY = settings(
    max_examples=int(os.environ.get("REFMGR_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run: a failure reproduces
)
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

SCRIPT = "[intro] alpha {seed=7, gap=1.5}: Good evening.\nalpha: The lamp is lit.\n"
COMMANDS = (["validate"], ["ls"], ["show", "alpha"], ["status"], ["render", "status", "ep.txt"])


@pytest.fixture
def cloned(repo: Path, env: dict[str, str]) -> Iterator[Path]:
    (repo / "ep.txt").write_text(SCRIPT)
    yield clone(repo, env)


def _run(root: Path, args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-C", str(root), *args])
    return code, err.getvalue()


def _assert_no_crash(root: Path, commands: tuple[list[str], ...] = COMMANDS) -> None:
    for args in commands:
        code, err = _run(root, args)
        assert code in (0, 1, 2), (args, code, err[-2000:])
        assert "Traceback" not in err and "internal error" not in err, (args, err[-2000:])


def _assert_no_crash_as_a_process(root: Path, commands: tuple[list[str], ...] = COMMANDS) -> None:
    for args in commands:
        proc = run_cli(*args, cwd=root)
        assert proc.returncode in (0, 1, 2), (args, proc.returncode, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


# Hostile values, as the raw text of each format (some, like 5,000-digit integers, cannot
# even be produced by a serializer).
HOSTILE_JSON = [
    "9" * 5000,
    "-" + "9" * 30,
    "18446744073709551616",
    "1e999",
    "-1e999",
    "NaN",
    "Infinity",
    "1e-400",
    "-0",
    "0.5",
    "true",
    "null",
    "[]",
    "{}",
    '""',
    '"\\ud800"',
    '"a\\udfffb"',
    '"\\ud83d"',
    '"\\u0000"',
    '"a\\nb"',
    '"\\u2028"',
    '"' + "x" * 200_000 + '"',
    '"../../../etc/passwd"',
    '"/dev/zero"',
    '"refs/../../x.npy"',
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    "[" + ",".join(["1"] * 10000) + "]",
    '{"\\ud800": 1}',
]
HOSTILE_TOML = [
    "9" * 5000,
    "1" + "0" * 400,
    "-" + "9" * 25,
    "9223372036854775807",
    "0x" + "f" * 40,
    "1e999",
    "inf",
    "-inf",
    "nan",
    "-0.0",
    "true",
    "1979-05-27T07:32:00Z",
    "[]",
    "[1, 2]",
    "{}",
    "{ a = 1 }",
    "{a = " * 400 + "1" + "}" * 400,
    "[" * 2000 + "]" * 2000,
    '"\\ud800"',
    '"\\u0000"',
    '"a\\nb"',
    '"' + "x" * 200_000 + '"',
    '"../.."',
    '"/etc"',
    '".git"',
    '"' + "\u2028" + '"',
    '"x\\\\y"',
]
BAD_BYTES = [b"\xff", b"\xed\xa0\x80", b"\x00", b"\xc3", b"\xef\xbb\xbf", b"\r", b"\x1b[31m"]


def _leaves(value: object, where: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    yield where
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*where, i))


@st.composite
def spliced_bytes(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with a hostile byte sequence (or random bytes) put at a random place."""
    at = draw(st.integers(0, len(base)))
    cut = draw(st.integers(0, 8))
    junk = draw(st.sampled_from(BAD_BYTES) | st.binary(min_size=1, max_size=16))
    return base[:at] + junk + base[at + cut :]


# --- manifests ---------------------------------------------------------------------------

ALPHA = json.loads((Path(__file__).parent.parent.parent / "manifests" / "alpha.json").read_text())
MANIFEST_PLACES = [p for p in _leaves(ALPHA) if p]
STRING_PLACES = [("transcript",), ("source", "file"), ("created", "refmgr_version")]
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
MARK = "\x01HOSTILE\x01"


@st.composite
def mutated_manifest(draw: st.DrawFn) -> bytes:
    data = json.loads(json.dumps(ALPHA))
    how = draw(st.sampled_from(["hostile", "surrogate", "any"]))
    place = draw(st.sampled_from(STRING_PLACES if how == "surrogate" else MANIFEST_PLACES))
    if how == "hostile":
        raw = draw(st.sampled_from(HOSTILE_JSON))
    elif how == "surrogate":  # a string that passes the schema but for a lone surrogate
        lone = chr(draw(st.integers(0xD800, 0xDFFF)))
        raw = json.dumps(draw(st.text(max_size=10)) + lone + draw(st.text(max_size=10)))
    else:  # any JSON value at all
        raw = json.dumps(draw(ANY_JSON), allow_nan=True)
    target = data
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = MARK
    text = json.dumps(data, indent=2).replace(json.dumps(MARK), raw).encode()
    return draw(st.just(text) | spliced_bytes(text))


@given(content=mutated_manifest())
@PROPERTY
def test_manifests(cloned: Path, content: bytes) -> None:
    (cloned / "manifests" / "alpha.json").write_bytes(content)
    _assert_no_crash(cloned)


def test_manifests_as_a_process(cloned: Path) -> None:
    data = json.dumps(ALPHA).replace('"My name', '"\\ud800 My name')
    (cloned / "manifests" / "alpha.json").write_text(data)
    _assert_no_crash_as_a_process(cloned)


# --- refmgr.toml -------------------------------------------------------------------------

VALUE_LINE = re.compile(r"^([A-Za-z0-9_.-]+ = ).*$", re.MULTILINE)


@pytest.fixture(scope="module")
def config_text(repo_template: Path) -> str:
    return (repo_template / "refmgr.toml").read_text() + (
        '\n[models.fish-s1]\ndevice = "cpu"\n[models.fish-s1.files]\n'
        '"codec.pth" = "' + "0" * 64 + '"\n'
    )


@st.composite
def mutated_config(draw: st.DrawFn, base: str) -> bytes:
    lines = [m for m in VALUE_LINE.finditer(base)]
    how = draw(st.sampled_from(["value", "value", "new-key", "table", "bytes"]))
    hostile = draw(st.sampled_from(HOSTILE_TOML))
    if how == "value":
        line = draw(st.sampled_from(lines))
        text = base[: line.start()] + line.group(1) + hostile + base[line.end() :]
    elif how == "new-key":
        key = draw(st.sampled_from(["seed", "max_token_bytes", "refs", "x", '"\\ud800"', "a.b.c"]))
        line = draw(st.sampled_from(lines))
        text = base[: line.end()] + f"\n{key} = {hostile}" + base[line.end() :]
    elif how == "table":
        name = draw(st.sampled_from(["models.fish-s1", "codecs.pins.x", "render", "engines.x"]))
        text = base + f"\n[{name}]\nvalue = {hostile}\n"
    else:
        return draw(spliced_bytes(base.encode()))
    return text.encode("utf-8", "surrogatepass")


@given(data=st.data())
@PROPERTY
def test_refmgr_toml(cloned: Path, config_text: str, data: st.DataObject) -> None:
    (cloned / "refmgr.toml").write_bytes(data.draw(mutated_config(config_text)))
    _assert_no_crash(cloned)


def test_refmgr_toml_as_a_process(cloned: Path) -> None:
    text = (cloned / "refmgr.toml").read_text().replace("seed = 0", "seed = " + "9" * 5000)
    (cloned / "refmgr.toml").write_text(text)
    _assert_no_crash_as_a_process(cloned)


# --- scripts -----------------------------------------------------------------------------

SCRIPT_HOSTILE = [
    "9" * 5000,
    "1e999",
    "nan",
    "-inf",
    "0x10",
    "1_0",
    "\u0663",  # an Arabic-Indic digit: int() takes it
    "",
    "=",
    "}",
    "\x00",
    "x" * 100_000,
]
SCRIPT_LINES = [
    "alpha: Hello.",
    "[intro] alpha: Hello.",
    "alpha {seed=%s}: Hello.",
    "alpha {temperature=%s, top_p=%s}: Hello.",
    "alpha {gap=%s}: Hello.",
    "[%s] alpha: Hello.",
    "%s: Hello.",
    "alpha: %s",
    "# %s",
    "ghost: Nobody has this voice.",
    "[a] alpha: one\n[A] alpha: two",
]


@st.composite
def mutated_script(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        template = draw(st.sampled_from(SCRIPT_LINES))
        value = draw(st.sampled_from(SCRIPT_HOSTILE) | st.text(max_size=20))
        lines.append(template.replace("%s", value))
    raw = "\n".join(lines).encode("utf-8", "surrogatepass")
    return draw(st.just(raw) | spliced_bytes(raw) | st.binary(max_size=200))


@given(content=mutated_script())
@PROPERTY
def test_scripts(cloned: Path, content: bytes) -> None:
    (cloned / "ep.txt").write_bytes(content)
    _assert_no_crash(cloned, (["render", "status", "ep.txt"],))


def test_scripts_as_a_process(cloned: Path) -> None:
    (cloned / "ep.txt").write_bytes(b"alpha {seed=" + b"9" * 5000 + b"}: a\xed\xa0\x80b\n")
    _assert_no_crash_as_a_process(cloned, (["render", "status", "ep.txt"],))
