from __future__ import annotations

from pathlib import Path

import pytest

from refmgr.config import Config, Limits, dump_config, load_config
from refmgr.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "refmgr.toml"
    path.write_text(text)
    return path


def test_default_config_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, dump_config(Config()))
    assert load_config(path) == Config()


def test_values_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path, "schema_version = 1\n[limits]\nmin_duration_s = 1\nmax_token_bytes = 99\n"
    )
    config = load_config(path)
    assert config.limits == Limits(min_duration_s=1.0, max_token_bytes=99)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[limits]\nmin_duration_s = 1\n", "missing 'schema_version'"),
        ("schema_version = 99\n", "newer than this refmgr supports (1): upgrade refmgr"),
        ("schema_version = '1'\n", "'schema_version' must be an integer"),
        (
            "schema_version = 1\n[limits]\nmax_duraton_s = 5\n",
            "unknown key 'limits.max_duraton_s' (did you mean 'limits.max_duration_s'?)",
        ),
        ("schema_version = 1\n[limts]\n", "unknown key 'limts' (did you mean 'limits'?)"),
        (
            "schema_version = 1\n[limits]\nmin_duration_s = 'x'\n",
            "'limits.min_duration_s' must be a number",
        ),
        (
            "schema_version = 1\n[codecs]\nallowed = 'codec2-3200'\n",
            "'codecs.allowed' must be an array",
        ),
        ("schema_version = 1\n[codecs]\ndefault = 'mp3'\n", "unknown codec 'mp3'"),
        (
            "schema_version = 1\n[paths]\nrefs = '../elsewhere'\n",
            "paths.refs must be a relative path",
        ),
        ("schema_version = 1\n[paths]\nrefs = '.'\n", "paths.refs must be a relative path"),
        (
            "schema_version = 1\n[paths]\nrefs = 'refs/'\n",
            "paths.refs must be written plainly, like 'refs' (no trailing '/', './' or '//')",
        ),
        ("schema_version = 1\n[paths]\nmanifests = './m'\n", "like 'm'"),
        ("schema_version = 1\n[limits]\nmin_duration_s = 100\n", "min_duration_s < max_duration_s"),
        ("schema_version = 1\nlimits = 3\n", "'limits' must be a table"),
        ("schema_version = \n", "invalid TOML"),
    ],
)
def test_invalid_configs_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert str(info.value).startswith(str(path))


def test_non_utf8_config(tmp_path: Path) -> None:
    path = tmp_path / "refmgr.toml"
    path.write_bytes(b"schema_version = 1\n# \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_render_settings_are_the_synthesis_parameters_plus_the_gap() -> None:
    """refmgr.params is the one definition: [render] has exactly its parameters, with its
    defaults, and the gap between lines."""
    import dataclasses

    from refmgr.config import RenderSettings
    from refmgr.params import DEFAULTS, PARAM_TYPES, SynthesisParams

    settings = RenderSettings()
    assert [f.name for f in dataclasses.fields(RenderSettings)] == [
        *PARAM_TYPES,
        "gap_s",
        "chunk_chars",
        "chunk_pause_ms",
        "warn_line_chars",
    ]
    assert SynthesisParams(**{name: getattr(settings, name) for name in PARAM_TYPES}) == DEFAULTS
