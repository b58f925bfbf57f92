"""Checkpoint pins and locations (no torch: the files are stand-ins of the right names)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import refmgr.checkpoints
from refmgr.backends.registry import FISH_S1_CHECKPOINT
from refmgr.checkpoints import RunOptions, locate, open_checkpoint
from refmgr.commands.model import pin_checkpoint
from refmgr.config import load_config
from refmgr.errors import BackendError, ConfigError
from refmgr.project import open_project
from tests.support.cli import run_cli
from tests.support.helpers import one_line_error, snapshot

DOWNLOAD = (
    "huggingface-cli download fishaudio/openaudio-s1-mini --local-dir checkpoints/openaudio-s1-mini"
)


def fake_checkpoint(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name in FISH_S1_CHECKPOINT.files:
        (directory / name).write_bytes(name.encode() * 100)
    (directory / ".gitattributes").write_text("*.pth filter=lfs\n")  # hub bookkeeping: not pinned
    return directory


def test_pin_outside_the_repo_records_pins_in_toml_and_location_per_user(
    voice_repo: Path, tmp_path: Path
) -> None:
    ckpt = fake_checkpoint(tmp_path / "elsewhere" / "openaudio-s1-mini")
    proc = run_cli("model", "pin", "fish-s1", ckpt)
    assert proc.returncode == 0, proc.stderr
    text = (voice_repo / "refmgr.toml").read_text()
    assert str(tmp_path) not in text  # no machine-specific path in the committed file
    config = load_config(voice_repo / "refmgr.toml")
    files = config.models["fish-s1"].files
    assert sorted(files) == sorted(FISH_S1_CHECKPOINT.files)
    assert config.models["fish-s1"].path is None
    assert "fish-s1" in config.codecs.allowed
    user = tomllib.loads(
        (tmp_path / "home" / ".config" / "refmgr" / "checkpoints.toml").read_text()
    )
    assert user["fish-s1"]["path"] == str(ckpt.resolve())
    checkpoint = open_checkpoint(
        open_project(voice_repo), FISH_S1_CHECKPOINT, "engine", RunOptions()
    )
    assert checkpoint.directory == ckpt.resolve() and not checkpoint.unpinned


@pytest.fixture(autouse=True)
def home_is_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    monkeypatch.delenv("REFMGR_CHECKPOINT_FISH_S1", raising=False)


def test_pin_inside_the_repo_is_relative(voice_repo: Path) -> None:
    fake_checkpoint(voice_repo / "checkpoints" / "openaudio-s1-mini")
    result = pin_checkpoint(
        open_project(voice_repo), "fish-s1", Path("checkpoints/openaudio-s1-mini")
    )
    assert result.location == "refmgr.toml"
    config = load_config(voice_repo / "refmgr.toml")
    assert config.models["fish-s1"].path == "checkpoints/openaudio-s1-mini"


def test_env_var_wins_and_a_missing_directory_names_the_download(
    voice_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = fake_checkpoint(tmp_path / "a")
    pin_checkpoint(open_project(voice_repo), "fish-s1", ckpt)
    other = fake_checkpoint(tmp_path / "b")
    monkeypatch.setenv("REFMGR_CHECKPOINT_FISH_S1", str(other))
    assert locate(open_project(voice_repo), FISH_S1_CHECKPOINT) == other
    monkeypatch.setenv("REFMGR_CHECKPOINT_FISH_S1", str(tmp_path / "gone"))
    with pytest.raises(BackendError) as info:
        locate(open_project(voice_repo), FISH_S1_CHECKPOINT)
    assert str(info.value).endswith(DOWNLOAD)
    assert "gone" in str(info.value) and "$REFMGR_CHECKPOINT_FISH_S1" in str(info.value)


def test_no_checkpoint_anywhere(voice_repo: Path) -> None:
    with pytest.raises(
        BackendError, match="no checkpoint for fish-s1: download it with: huggingface-cli"
    ):
        locate(open_project(voice_repo), FISH_S1_CHECKPOINT)


def test_incomplete_directory_names_the_missing_file(voice_repo: Path, tmp_path: Path) -> None:
    ckpt = fake_checkpoint(tmp_path / "c")
    (ckpt / "model.pth").unlink()
    before = snapshot(voice_repo)
    proc = run_cli("model", "pin", "fish-s1", ckpt)
    assert proc.returncode == 1
    assert one_line_error(proc.stderr, "c/model.pth: missing checkpoint file of fish-s1", DOWNLOAD)
    assert snapshot(voice_repo) == before


def test_changed_file_fails_naming_it_unless_allowed(voice_repo: Path, tmp_path: Path) -> None:
    ckpt = fake_checkpoint(tmp_path / "d")
    pin_checkpoint(open_project(voice_repo), "fish-s1", ckpt)
    (ckpt / "codec.pth").write_bytes(b"truncated")
    project = open_project(voice_repo)
    with pytest.raises(BackendError) as info:
        open_checkpoint(project, FISH_S1_CHECKPOINT, "codec", RunOptions())
    message = str(info.value)
    assert (
        message.startswith(f"{ckpt / 'codec.pth'}: sha256 ") and "differs from the pin" in message
    )
    assert message.endswith("(or pass --allow-unpinned)")
    allowed = open_checkpoint(project, FISH_S1_CHECKPOINT, "codec", RunOptions(allow_unpinned=True))
    assert allowed.unpinned and allowed.warnings
    # The codec only needs codec.pth: a changed model.pth does not stop encoding.
    (ckpt / "codec.pth").write_bytes(b"codec.pth" * 100)
    (ckpt / "model.pth").write_bytes(b"other")
    assert not open_checkpoint(project, FISH_S1_CHECKPOINT, "codec", RunOptions()).unpinned
    with pytest.raises(BackendError, match=r"model\.pth: sha256"):
        open_checkpoint(project, FISH_S1_CHECKPOINT, "engine", RunOptions())


def test_unpinned_model_is_refused(voice_repo: Path, tmp_path: Path) -> None:
    ckpt = fake_checkpoint(tmp_path / "e")
    with pytest.raises(BackendError, match=r"refmgr\.toml: no pins for model fish-s1; pin this"):
        open_checkpoint(
            open_project(voice_repo), FISH_S1_CHECKPOINT, "codec", RunOptions(checkpoint=ckpt)
        )


def test_digests_are_cached_by_size_and_mtime(
    voice_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = fake_checkpoint(tmp_path / "f")
    hashed: list[str] = []
    real = refmgr.checkpoints.sha256_file

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(refmgr.checkpoints, "sha256_file", counting)
    pin_checkpoint(open_project(voice_repo), "fish-s1", ckpt)
    assert len(hashed) == len(FISH_S1_CHECKPOINT.files)
    hashed.clear()
    open_checkpoint(open_project(voice_repo), FISH_S1_CHECKPOINT, "engine", RunOptions())
    assert hashed == []
    (ckpt / "codec.pth").write_bytes(b"new content")
    with pytest.raises(BackendError, match=r"codec\.pth: sha256"):
        open_checkpoint(open_project(voice_repo), FISH_S1_CHECKPOINT, "engine", RunOptions())
    assert hashed == ["codec.pth"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.fish-s2]\n", "unknown model 'fish-s2'"),
        ("[models.fish-s1]\npath = '/abs/ckpt'\n", "models.fish-s1.path must be relative"),
        ("[models.fish-s1]\ndevice = 'tpu'\n", "models.fish-s1.device must be one of auto"),
        ("[models.fish-s1]\nprecision = 'int4'\n", "models.fish-s1.precision must be one of"),
        ("[models.fish-s1.files]\n'codec.pth' = 'abc'\n", "must be a sha256"),
        ("[models.fish-s1]\ncheckpoint = 'x'\n", "unknown key 'models.fish-s1.checkpoint'"),
    ],
)
def test_bad_model_settings(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "refmgr.toml"
    path.write_text("schema_version = 1\n" + text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)


def test_pin_keeps_a_config_change_made_while_it_hashed(
    voice_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import refmgr.commands.model

    ckpt = fake_checkpoint(tmp_path / "big" / "openaudio-s1-mini")
    real_hash = refmgr.commands.model.hash_files

    def slow_hash(paths: list[Path]) -> dict[Path, str]:
        # Hashing real weights takes minutes; meanwhile another refmgr re-pins a codec.
        assert run_cli("pin", "codec2-3200", "--library-version", "4.0.0").returncode == 0
        return real_hash(paths)

    monkeypatch.setattr(refmgr.commands.model, "hash_files", slow_hash)
    pin_checkpoint(open_project(voice_repo), "fish-s1", ckpt)
    config = load_config(voice_repo / "refmgr.toml")
    assert config.codecs.pins["codec2-3200"].library_version == "4.0.0"
    assert sorted(config.models["fish-s1"].files) == sorted(FISH_S1_CHECKPOINT.files)
