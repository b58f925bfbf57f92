"""Token files: plain NumPy ``.npy`` (format 1.0), C order, little-endian integers.

Token files arrive in commits, so they are untrusted input. The header is parsed here by
hand (never ``np.load``; never unpickle) and checked *before* any data is read: an npy
header claiming a huge shape costs nothing, an object array is refused, and the data is
only read once its exact size is known to match the file.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from refmgr.errors import TokenFileError

MAGIC = b"\x93NUMPY"
# The dtypes a token file may hold, by their npy descr. Little-endian or byte-sized only.
DTYPES = {
    "|u1": "uint8",
    "|i1": "int8",
    "<u2": "uint16",
    "<i2": "int16",
    "<u4": "uint32",
    "<i4": "int32",
    "<i8": "int64",
}
DESCRS = {name: descr for descr, name in DTYPES.items()}
MAX_HEADER = 4096  # numpy writes ~128 bytes; anything near this is not a token file
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class NpyHeader:
    version: tuple[int, int]
    dtype: str  # numpy name, e.g. "uint8"
    shape: tuple[int, ...]
    data_offset: int

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def data_bytes(self) -> int:
        n = self.itemsize
        for dim in self.shape:
            n *= dim
        return n


def read_header(f: BinaryIO, path: Path) -> NpyHeader:
    """Parse and check an npy header; raise TokenFileError naming the problem."""
    prefix = f.read(10)
    if len(prefix) < 10 or not prefix.startswith(MAGIC):
        raise TokenFileError("not an npy file (bad magic bytes)", path)
    version = (prefix[6], prefix[7])
    if version != (1, 0):
        raise TokenFileError(
            f"npy format version {version[0]}.{version[1]} is not supported (expected 1.0)", path
        )
    (header_len,) = struct.unpack("<H", prefix[8:10])
    if header_len > MAX_HEADER:
        raise TokenFileError(f"npy header of {header_len} bytes is too large", path)
    raw = f.read(header_len)
    if len(raw) < header_len:
        raise TokenFileError("truncated npy header", path)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise TokenFileError("npy header is not ASCII", path) from None
    header = _literal(text, path)
    if set(header) != {"descr", "fortran_order", "shape"}:
        raise TokenFileError(
            f"npy header keys must be descr, fortran_order, shape (got {sorted(map(str, header))})",
            path,
        )
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str):
        raise TokenFileError(f"npy dtype {descr!r} is not a plain integer type", path)
    if descr not in DTYPES:
        raise TokenFileError(_descr_problem(descr), path)
    if fortran is not False:
        if fortran is True:
            raise TokenFileError("Fortran-ordered array (expected C order)", path)
        raise TokenFileError(f"npy fortran_order must be a boolean, not {fortran!r}", path)
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise TokenFileError(f"npy shape {shape!r} is not a tuple of sizes", path)
    return NpyHeader(version, DTYPES[descr], shape, 10 + header_len)


# The one form numpy writes a header in, read without literal_eval (a third of the cost of
# checking a token file). Anything else goes through literal_eval, with the same result.
_SIZE = "(?:0|[1-9][0-9]*)"
NUMPY_HEADER = re.compile(
    r"\{'descr': '([^'\\]*)', 'fortran_order': (False|True), "
    rf"'shape': \((|{_SIZE},|{_SIZE}(?:, {_SIZE})+)\), \}}",
    re.ASCII,
)


def parse_header_text(text: str) -> dict[str, Any] | None:
    """The header dict when ``text`` is in numpy's own form, else None."""
    match = NUMPY_HEADER.fullmatch(text.strip())
    if match is None:
        return None
    descr, fortran, shape = match.groups()
    sizes = tuple(int(n) for n in shape.split(",") if n.strip())
    return {"descr": descr, "fortran_order": fortran == "True", "shape": sizes}


def _literal(text: str, path: Path) -> dict[Any, Any]:
    fast = parse_header_text(text)
    if fast is not None:
        return fast
    # The header is a Python dict literal. literal_eval builds no objects beyond literals;
    # the size cap above bounds its work.
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise TokenFileError("npy header is not a valid dictionary literal", path) from None
    if not isinstance(value, dict):
        raise TokenFileError("npy header is not a dictionary", path)
    return value


def _descr_problem(descr: str) -> str:
    if "O" in descr:
        return "object dtype (pickled Python objects) refused: token files hold integers only"
    if descr.startswith(">"):
        return f"big-endian dtype {descr!r} (expected little-endian)"
    if descr[1:2] in ("f", "c"):
        return f"floating-point dtype {descr!r} (expected integer codes)"
    # repr: a hostile descr may hold newlines or quotes; a finding stays one line.
    return f"unsupported dtype {descr!r} (expected one of {', '.join(sorted(DTYPES.values()))})"


def smallest_dtype(low: int, high: int) -> str:
    """The smallest integer dtype holding [low, high]: uint8, else int16, else int32."""
    for name in ("uint8", "int16", "int32"):
        info = np.iinfo(name)
        if info.min <= low and high <= info.max:
            return name
    return "int64"


def encode_npy(codes: np.ndarray[Any, Any]) -> bytes:
    """The bytes of a token file: npy 1.0, C order, little-endian."""
    if codes.dtype.name not in DESCRS:
        raise TokenFileError(f"cannot store dtype {codes.dtype.name} as tokens")
    arr = np.ascontiguousarray(codes, dtype=np.dtype(DESCRS[codes.dtype.name]))
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=(1, 0), allow_pickle=False)
    return buf.getvalue()


@dataclass(frozen=True)
class TokenExpectation:
    """What a manifest says a token file is."""

    sha256: str
    bytes: int
    dtype: str
    shape: tuple[int, ...]


def read_tokens(path: Path, expect: TokenExpectation, max_bytes: int) -> np.ndarray[Any, Any]:
    """Load a token file that must match ``expect`` exactly; check everything before reading data."""
    try:
        f = open(path, "rb")  # noqa: SIM115  (closed below; fstat on the open handle)
    except FileNotFoundError:
        raise TokenFileError("token file is missing", path) from None
    except IsADirectoryError:
        raise TokenFileError("token file is a directory", path) from None
    except OSError as e:
        raise TokenFileError(f"cannot read token file: {e.strerror}", path) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise TokenFileError(f"token file is {size} bytes, over the limit of {max_bytes}", path)
        header = read_header(f, path)
        check_header(header, expect, path)
        if size != header.data_offset + header.data_bytes:
            raise TokenFileError(
                f"file is {size} bytes but its header describes "
                f"{header.data_offset + header.data_bytes} (truncated or padded)",
                path,
            )
        if size != expect.bytes:  # before reading: the sha256 cannot match then either
            raise TokenFileError(content_problems(size, expect.sha256, expect)[0], path)
        f.seek(0)
        data = f.read()
    for problem in content_problems(len(data), hashlib.sha256(data).hexdigest(), expect):
        raise TokenFileError(problem, path)
    return np.frombuffer(
        data, dtype=np.dtype(DESCRS[header.dtype]), offset=header.data_offset
    ).reshape(header.shape)


def header_problems(header: NpyHeader, expect: TokenExpectation) -> list[str]:
    """How a token file's header differs from what its manifest expects (dtype, shape)."""
    problems = []
    if header.dtype != expect.dtype:
        problems.append(f"dtype {header.dtype} differs from the manifest's {expect.dtype}")
    if header.shape != expect.shape:
        problems.append(
            f"shape {list(header.shape)} differs from the manifest's {list(expect.shape)}"
        )
    return problems


def content_problems(size: int, digest: str, expect: TokenExpectation) -> list[str]:
    """How a token file's bytes differ from what its manifest expects (size, sha256)."""
    problems = []
    if size != expect.bytes:
        problems.append(f"file is {size} bytes, manifest says {expect.bytes}")
    if digest != expect.sha256:
        problems.append(
            f"sha256 {digest[:12]}… does not match the manifest's {expect.sha256[:12]}…"
        )
    return problems


def check_header(header: NpyHeader, expect: TokenExpectation, path: Path) -> None:
    for problem in header_problems(header, expect):
        raise TokenFileError(problem, path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
