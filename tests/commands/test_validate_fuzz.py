"""The validator never crashes, whatever bytes a manifest or a token file holds."""

from __future__ import annotations

import ast
import io
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refmgr.config import Config
from refmgr.errors import ManifestError, TokenFileError
from refmgr.manifest import parse_manifest
from refmgr.snapshot import WorkTree
from refmgr.tokens import MAGIC, parse_header_text, read_header
from refmgr.validate import validate
from tests.support.gitenv import PROJECT

ALPHA_JSON = (PROJECT / "manifests" / "alpha.json").read_bytes()
ALPHA_NPY = (PROJECT / "refs" / "alpha.npy").read_bytes()
FUZZ = settings(
    max_examples=int(os.environ.get("REFMGR_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


@st.composite
def spliced(draw: st.DrawFn, base: bytes) -> bytes:
    """base with a random slice replaced by random bytes (keeps most of the structure)."""
    start = draw(st.integers(0, len(base)))
    end = draw(st.integers(start, min(len(base), start + 64)))
    return base[:start] + draw(st.binary(max_size=64)) + base[end:]


json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
).map(lambda v: json.dumps(v, allow_nan=True).encode())

manifest_bytes = st.one_of(
    st.binary(max_size=300),
    json_text,
    st.sampled_from(
        [b"NaN", b"[1e999]", b'{"a": -Infinity}', b"9" * 5000, b"[" * 100000, b"\xef\xbb\xbf{}"]
    ),
)

header_text = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda d, f, s: f"{{'descr': {d!r}, 'fortran_order': {f!r}, 'shape': {s!r}, }}",
        st.sampled_from(["|u1", "<i2", ">i2", "|O", "<f4", "<i8", "|b1", "<U4", "V8"])
        | st.text(max_size=5),
        st.booleans() | st.integers() | st.none(),
        st.tuples(st.integers(-2, 2**70))
        | st.tuples(st.integers(0, 2**64), st.integers(0, 2**64))
        | st.text(max_size=4),
    ),
)


@st.composite
def npy_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["header", "splice", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=300))
    if kind == "splice":
        return draw(spliced(ALPHA_NPY))
    header = draw(header_text).encode("utf-8", "surrogatepass")
    length = draw(st.one_of(st.just(len(header)), st.integers(0, 70000)))
    version = draw(st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00"]))
    body = draw(st.binary(max_size=200))
    return MAGIC + version + struct.pack("<H", min(length, 65535)) + header + body


@FUZZ
@given(st.one_of(manifest_bytes, spliced(ALPHA_JSON)))
def test_manifest_loader_raises_only_manifest_errors(raw: bytes) -> None:
    try:
        parse_manifest(raw, Path("m.json"))
    except ManifestError as e:
        assert "\n" not in str(e)


@FUZZ
@given(npy_bytes())
def test_npy_header_reader_raises_only_token_file_errors(raw: bytes) -> None:
    try:
        read_header(io.BytesIO(raw), Path("t.npy"))
    except TokenFileError as e:
        assert "\n" not in str(e)


numpy_like_headers = st.builds(
    lambda d, f, shape, tail: f"{{'descr': {d}, 'fortran_order': {f}, 'shape': {shape}, }}{tail}",
    st.sampled_from(["'|u1'", "'<i2'", "'>i8'", "'|O'", "'a\\'b'", "'\\x41'", '"<i2"'])
    | st.text(max_size=6).map(repr)
    | st.text(max_size=6),
    st.sampled_from(["True", "False", "False", "1", "None"]),
    st.lists(st.integers(0, 2**70), max_size=4).map(lambda t: repr(tuple(t)))
    | st.from_regex(r"\((|[0-9 ]{1,5},?|[0-9]{1,3}(, ?[0-9]{1,3}){1,3},?)\)", fullmatch=True)
    | st.text(max_size=8),
    st.sampled_from(["", " " * 20 + "\n", "\n\n", " x"]),
)


@FUZZ
@given(numpy_like_headers)
def test_the_fast_header_parse_agrees_with_literal_eval(text: str) -> None:
    fast = parse_header_text(text)
    if fast is not None:
        assert ast.literal_eval(text.strip()) == fast


def test_numpy_headers_take_the_fast_path() -> None:
    for shape in [(), (5,), (8, 1455), (10, 0), (2, 3, 4)]:
        for dtype in ("uint8", "<i2", "<i8"):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.zeros(shape, dtype=dtype), version=(1, 0))
            raw = buf.getvalue()
            text = raw[10 : 10 + struct.unpack("<H", raw[8:10])[0]].decode("ascii")
            assert parse_header_text(text) == ast.literal_eval(text)


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "refs").mkdir()
    (root / "manifests").mkdir()
    return root


@FUZZ
@given(
    st.one_of(manifest_bytes, spliced(ALPHA_JSON), st.just(ALPHA_JSON)),
    st.one_of(npy_bytes(), st.just(ALPHA_NPY)),
)
def test_validate_reports_findings_and_never_crashes(
    fuzz_root: Path, manifest: bytes, npy: bytes
) -> None:
    (fuzz_root / "manifests" / "alpha.json").write_bytes(manifest)
    (fuzz_root / "refs" / "alpha.npy").write_bytes(npy)
    report = validate(WorkTree(fuzz_root), Config())
    for finding in report.findings:
        assert finding.path in ("manifests/alpha.json", "refs/alpha.npy")
        assert "\n" not in finding.problem
    if manifest == ALPHA_JSON and npy == ALPHA_NPY:
        assert report.findings == []


extreme_numbers = st.sampled_from(
    [0, -1, 1e308, -1e308, 5e-324, 2**63 - 1, 2**63, -(2**63), 2**1100, 10**400, 1.5, 8.0]
)


@st.composite
def mutated_valid_manifests(draw: st.DrawFn) -> bytes:
    """The example manifest with some numbers replaced by extreme ones."""
    data = json.loads(ALPHA_JSON)
    numeric = [
        ("codec", "frame_rate"),
        ("codec", "hop"),
        ("codec", "sample_rate"),
        ("codec", "n_codebooks"),
        ("source", "duration_s"),
        ("source", "bytes"),
        ("tokens", "bytes"),
        ("voice", "f0_median_hz"),
        ("schema_version",),
    ]
    for keys in draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=3)):
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = draw(extreme_numbers)
    if draw(st.booleans()):
        data["tokens"]["shape"] = [draw(extreme_numbers), draw(extreme_numbers)]
    return json.dumps(data).encode()


@FUZZ
@given(mutated_valid_manifests())
def test_validate_survives_extreme_numbers(fuzz_root: Path, manifest: bytes) -> None:
    (fuzz_root / "manifests" / "alpha.json").write_bytes(manifest)
    (fuzz_root / "refs" / "alpha.npy").write_bytes(ALPHA_NPY)
    report = validate(WorkTree(fuzz_root), Config())
    assert all("\n" not in f.problem for f in report.findings)
