"""The bad input the validator must catch, as changes to a repository holding the good
reference 'alpha' (this project's example voice). Each case is run through the core, the
CLI, the pre-commit framework and the plain git hook by the test modules that import it.
"""

from __future__ import annotations

import io
import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.manifest import dump_manifest
from refmgr.tokens import encode_npy
from tests.test_tokens import Exploit, npy_with_header

MANIFEST = "manifests/alpha.json"
TOKENS = "refs/alpha.npy"
PWNED = "pwned-by-unpickling"  # created in the repository's parent if a payload ever runs

# A codec registered only for the 'codec not allowed' case: with codec2-3200 as the only
# registered codec, refmgr.toml cannot otherwise disallow it. Subprocesses get it through
# this sitecustomize module on PYTHONPATH.
EXTRA_CODEC = textwrap.dedent(
    """
    from refmgr.backends.base import CodecSpec
    from refmgr.backends.registry import CODECS

    CODECS["test-codec"] = CodecSpec(
        id="test-codec", family="test", summary="test", distribution="pycodec2",
        sample_rate=8000, hop=160, n_codebooks=8, code_ranges=((0, 255),) * 8,
        storage_dtype="uint8", loader="refmgr.backends.codec2:Codec2Codec", install_hint="-",
    )
    """
)


@dataclass(frozen=True)
class BadCase:
    id: str
    change: Callable[[Path], None]
    path: str  # the file the finding must name
    text: str  # a part of the problem's message
    extra_codec: bool = False
    # Fields a test may look at, e.g. the pickle marker.
    notes: dict[str, Any] = field(default_factory=dict)


def manifest_data(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / MANIFEST).read_text("utf-8"))
    return data


def edit_manifest(root: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    data = manifest_data(root)
    edit(data)
    (root / MANIFEST).write_bytes(dump_manifest(data))


def tokens_body(root: Path) -> bytes:
    return (root / TOKENS).read_bytes()[128:]


def replace_tokens(root: Path, npy: bytes, *, update_manifest: bool) -> None:
    """Write new token bytes; with update_manifest, make the manifest describe them."""
    import hashlib

    (root / TOKENS).write_bytes(npy)
    if update_manifest:
        codes = np.load(io.BytesIO(npy), allow_pickle=False)

        def edit(data: dict[str, Any]) -> None:
            data["tokens"].update(
                sha256=hashlib.sha256(npy).hexdigest(),
                bytes=len(npy),
                dtype=codes.dtype.name,
                shape=list(codes.shape),
            )

        edit_manifest(root, edit)


def _flip_a_code(root: Path) -> None:
    data = bytearray((root / TOKENS).read_bytes())
    data[-1] ^= 0x01
    (root / TOKENS).write_bytes(bytes(data))


def _pickled(root: Path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([Exploit(str(root.parent / PWNED))], dtype=object), allow_pickle=True)
    (root / TOKENS).write_bytes(buf.getvalue())


def _header(descr: str = "|u1", fortran: str = "False", shape: str = "(8, 1455)") -> str:
    return f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"


def _with_header(header: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / TOKENS).write_bytes(npy_with_header(header, tokens_body(root)))

    return change


def _truncated(root: Path) -> None:
    data = (root / TOKENS).read_bytes()
    (root / TOKENS).write_bytes(data[: len(data) // 2])


def _out_of_range(root: Path) -> None:
    codes = np.load(root / TOKENS, allow_pickle=False).astype(np.int16)
    codes[3, 700] = 300
    replace_tokens(root, encode_npy(codes), update_manifest=True)


def _set(*keys: str, value: Any) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        def edit(data: dict[str, Any]) -> None:
            target = data
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = value

        edit_manifest(root, edit)

    return change


def _symlink_outside(root: Path) -> None:
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    os.replace(root / TOKENS, outside / "alpha.npy")
    os.symlink(os.path.join("..", "..", "outside", "alpha.npy"), root / TOKENS)


def _raw_manifest(text: bytes) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / MANIFEST).write_bytes(text)

    return change


def _duplicate_key(root: Path) -> None:
    text = (root / MANIFEST).read_text("utf-8")
    (root / MANIFEST).write_text(
        text.replace('  "name": "alpha",', '  "name": "alpha",\n  "name": "alpha",')
    )


def _non_utf8(root: Path) -> None:
    text = (root / MANIFEST).read_bytes()
    (root / MANIFEST).write_bytes(text.replace(b"lighthouse", b"lighth\xf6use"))


def _orphan(root: Path) -> None:
    (root / "refs" / "ghost.npy").write_bytes((root / TOKENS).read_bytes())


def _missing_tokens(root: Path) -> None:
    (root / TOKENS).unlink()


def _wide_dtype(root: Path) -> None:
    codes = np.load(io.BytesIO((root / TOKENS).read_bytes()), allow_pickle=False)
    buf = io.BytesIO()
    np.save(buf, codes.astype(np.int64), allow_pickle=False)
    replace_tokens(root, buf.getvalue(), update_manifest=True)


def _config(old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / "refmgr.toml"
        text = path.read_text("utf-8")
        assert old in text
        path.write_text(text.replace(old, new))

    return change


def _raw_audio(root: Path) -> None:
    from tests.support.helpers import make_recording

    make_recording(root / "refs" / "alpha.wav", seconds=1.0, sample_rate=8000)


BAD_CASES = [
    BadCase("sha256-mismatch", _flip_a_code, TOKENS, "does not match the manifest's"),
    BadCase("pickled-object-dtype", _pickled, TOKENS, "object dtype", notes={"marker": PWNED}),
    BadCase(
        "huge-shape", _with_header(_header(shape=f"(8, {1 << 60})")), TOKENS, "truncated or padded"
    ),
    BadCase("truncated", _truncated, TOKENS, "truncated"),
    BadCase("fortran-order", _with_header(_header(fortran="True")), TOKENS, "Fortran-ordered"),
    BadCase(
        "big-endian", _with_header(_header(descr=">i2", shape="(8, 727)")), TOKENS, "big-endian"
    ),
    BadCase(
        "float-dtype",
        _with_header(_header(descr="<f4", shape="(8, 363)")),
        TOKENS,
        "floating-point",
    ),
    BadCase("wide-dtype", _wide_dtype, MANIFEST, "tokens.dtype int64 is not codec2-3200's uint8"),
    BadCase(
        "codes-out-of-range",
        _out_of_range,
        TOKENS,
        "code 300 in codebook 3 is outside codec2-3200's range 0..255",
    ),
    BadCase(
        "shape-differs",
        _set("tokens", "shape", value=[8, 1454]),
        TOKENS,
        "shape [8, 1455] differs from the manifest's [8, 1454]",
    ),
    BadCase(
        "frames-vs-duration",
        _set("source", "duration_s", value=10.0),
        MANIFEST,
        "frames but source.duration_s 10 s",
    ),
    BadCase(
        "path-dotdot",
        _set("tokens", "path", value="refs/../../alpha.npy"),
        MANIFEST,
        "escapes refs/ with '..'",
    ),
    BadCase("path-absolute", _set("tokens", "path", value="/etc/passwd"), MANIFEST, "is absolute"),
    BadCase("path-symlink", _symlink_outside, TOKENS, "symlink leading outside refs/"),
    BadCase("invalid-json", _raw_manifest(b'{"name": "alpha",'), MANIFEST, "invalid JSON"),
    BadCase("duplicate-key", _duplicate_key, MANIFEST, "duplicate key 'name'"),
    BadCase(
        "wrong-type",
        _set("tokens", "bytes", value="11768"),
        MANIFEST,
        "tokens.bytes: '11768' is not of type 'integer'",
    ),
    BadCase(
        "unknown-field",
        _set("mood", value="cheerful"),
        MANIFEST,
        "Additional properties are not allowed ('mood' was unexpected)",
    ),
    BadCase("schema-version-newer", _set("schema_version", value=2), MANIFEST, "upgrade refmgr"),
    BadCase(
        "schema-version-old",
        _set("schema_version", value=0),
        MANIFEST,
        "unsupported schema_version 0",
    ),
    BadCase("non-utf8", _non_utf8, MANIFEST, "not UTF-8"),
    BadCase(
        "name-not-stem",
        _set("name", value="bravo"),
        MANIFEST,
        "name 'bravo' does not match the file name 'alpha'",
    ),
    BadCase("orphan-tokens", _orphan, "refs/ghost.npy", "token file has no manifest"),
    BadCase("missing-tokens", _missing_tokens, MANIFEST, "token file refs/alpha.npy is missing"),
    BadCase(
        "codec-not-allowed",
        _config(
            'default = "codec2-3200"\nallowed = ["codec2-3200"]',
            'default = "test-codec"\nallowed = ["test-codec"]',
        ),
        MANIFEST,
        "codec 'codec2-3200' is not allowed by refmgr.toml",
        extra_codec=True,
    ),
    BadCase("raw-audio-under-refs", _raw_audio, "refs/alpha.wav", "WAV audio"),
    BadCase(
        "over-size-limit",
        _config("max_token_bytes = 1048576", "max_token_bytes = 4096"),
        TOKENS,
        "over the limit of 4096",
    ),
]
BAD_IDS = [case.id for case in BAD_CASES]


def extra_codec_path(tmp_path: Path) -> Path:
    """A directory for PYTHONPATH whose sitecustomize registers 'test-codec'."""
    directory = tmp_path / "extra-codec"
    directory.mkdir(exist_ok=True)
    (directory / "sitecustomize.py").write_text(EXTRA_CODEC)
    return directory


def assert_commit_refused(case: BadCase, root: Path, env: dict[str, str], tmp: Path) -> None:
    """Apply ``case`` and commit through the installed hook: refused, naming the file."""
    from tests.support.gitenv import commit, head

    if case.extra_codec:
        env = {**env, "PYTHONPATH": str(extra_codec_path(tmp))}
    before = head(root, env)
    case.change(root)
    proc = commit(root, env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"{case.path}: " in output and case.text in output, output
    assert head(root, env) == before
    if "marker" in case.notes:
        assert not (root.parent / case.notes["marker"]).exists()
