from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import pytest

from refmgr.errors import TokenFileError
from refmgr.tokens import TokenExpectation, encode_npy, read_header, read_tokens, smallest_dtype


def npy_with_header(header: str, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    raw = header.encode("latin-1")
    pad = 64 - (10 + len(raw) + 1) % 64
    raw += b" " * pad + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(raw)) + raw + data


def expectation(
    data: bytes, dtype: str = "uint8", shape: tuple[int, ...] = (8, 4)
) -> TokenExpectation:
    return TokenExpectation(hashlib.sha256(data).hexdigest(), len(data), dtype, shape)


def test_round_trip(tmp_path: Path) -> None:
    codes = np.arange(32, dtype=np.uint8).reshape(8, 4)
    data = encode_npy(codes)
    assert data[:8] == b"\x93NUMPY\x01\x00"
    path = tmp_path / "t.npy"
    path.write_bytes(data)
    loaded = read_tokens(path, expectation(data), max_bytes=1 << 20)
    assert np.array_equal(loaded, codes)
    assert loaded.dtype == np.uint8
    # numpy itself reads what we write
    assert np.array_equal(np.load(io.BytesIO(data), allow_pickle=False), codes)


def test_int16_is_little_endian(tmp_path: Path) -> None:
    codes = np.array([[1, 4095], [0, 1023]], dtype=np.int16)
    data = encode_npy(codes)
    assert b"'<i2'" in data[:128]


@pytest.mark.parametrize(
    ("low", "high", "dtype"),
    [
        (0, 255, "uint8"),
        (0, 999, "int16"),
        (0, 4095, "int16"),
        (-5, 5, "int16"),
        (0, 70000, "int32"),
    ],
)
def test_smallest_dtype(low: int, high: int, dtype: str) -> None:
    assert smallest_dtype(low, high) == dtype


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("{'descr': '|O', 'fortran_order': False, 'shape': (8, 4), }", "object dtype"),
        ("{'descr': '>i2', 'fortran_order': False, 'shape': (8, 4), }", "big-endian"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (8, 4), }", "floating-point"),
        ("{'descr': '|u1', 'fortran_order': True, 'shape': (8, 4), }", "Fortran-ordered"),
        ("{'descr': '|u1', 'fortran_order': False, 'shape': (8, -1), }", "not a tuple of sizes"),
        ("{'descr': '|u1', 'fortran_order': False}", "header keys"),
        (
            "{'descr': [('a', '|u1')], 'fortran_order': False, 'shape': (1,), }",
            "not a plain integer",
        ),
        ("__import__('os').system('true')", "not a valid dictionary literal"),
        ("[1, 2]", "not a dictionary"),
    ],
)
def test_bad_headers(header: str, message: str) -> None:
    with pytest.raises(TokenFileError, match=message):
        read_header(io.BytesIO(npy_with_header(header)), Path("x.npy"))


def test_format_version_2_refused() -> None:
    data = npy_with_header(
        "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", version=b"\x02\x00"
    )
    with pytest.raises(TokenFileError, match=r"format version 2\.0"):
        read_header(io.BytesIO(data), Path("x.npy"))


def test_bad_magic_and_truncation() -> None:
    with pytest.raises(TokenFileError, match="magic"):
        read_header(io.BytesIO(b"PK\x03\x04 zip file"), Path("x.npy"))
    whole = encode_npy(np.zeros((8, 4), np.uint8))
    with pytest.raises(TokenFileError, match="truncated npy header"):
        read_header(io.BytesIO(whole[:40]), Path("x.npy"))


def test_huge_shape_is_refused_without_allocating(tmp_path: Path) -> None:
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (10, 1000000000000000), }"
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_with_header(header, b"\x00" * 64))
    data = path.read_bytes()
    # Even when the manifest agrees with the header, the file size gives it away.
    with pytest.raises(TokenFileError, match="truncated or padded"):
        read_tokens(path, expectation(data, "int64", (10, 10**15)), max_bytes=1 << 20)


def test_truncated_data(tmp_path: Path) -> None:
    data = encode_npy(np.zeros((8, 4), np.uint8))
    path = tmp_path / "t.npy"
    path.write_bytes(data[:-3])
    with pytest.raises(TokenFileError, match="truncated or padded"):
        read_tokens(path, expectation(data), max_bytes=1 << 20)


def test_sha256_mismatch(tmp_path: Path) -> None:
    data = encode_npy(np.zeros((8, 4), np.uint8))
    tampered = data[:-1] + b"\x01"
    path = tmp_path / "t.npy"
    path.write_bytes(tampered)
    with pytest.raises(TokenFileError, match="does not match the manifest"):
        read_tokens(path, expectation(data), max_bytes=1 << 20)


def test_manifest_mismatches(tmp_path: Path) -> None:
    data = encode_npy(np.zeros((8, 4), np.uint8))
    path = tmp_path / "t.npy"
    path.write_bytes(data)
    with pytest.raises(TokenFileError, match="shape"):
        read_tokens(path, expectation(data, shape=(8, 5)), max_bytes=1 << 20)
    with pytest.raises(TokenFileError, match="dtype"):
        read_tokens(path, expectation(data, dtype="int16"), max_bytes=1 << 20)
    with pytest.raises(TokenFileError, match="over the limit"):
        read_tokens(path, expectation(data), max_bytes=10)


def test_pickle_payload_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = np.array([Exploit(str(marker))], dtype=object)
    buf = io.BytesIO()
    np.save(buf, payload, allow_pickle=True)
    path = tmp_path / "evil.npy"
    path.write_bytes(buf.getvalue())
    data = path.read_bytes()
    with pytest.raises(TokenFileError, match="object dtype"):
        read_tokens(path, expectation(data, "uint8", (1,)), max_bytes=1 << 20)
    assert not marker.exists()
    # The payload is live: unpickling it really would have created the file.
    np.load(path, allow_pickle=True)
    assert marker.exists()


class Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    Path(path).touch()
