"""[quality.reference]: read like every table of refmgr.toml, judged in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from refmgr.config import ReferenceGates, load_config
from refmgr.errors import ConfigError
from refmgr.quality.gates import MEASURES, judge, limits

pytestmark = pytest.mark.no_qa


def _config(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "refmgr.toml"
    path.write_text(f"schema_version = 1\n[quality.reference]\n{table}\n")
    return path


def test_limits_are_read_and_a_typo_gets_a_suggestion(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "snr_db_refuse_below = 10\ngate = false"))
    assert config.quality.reference == ReferenceGates(snr_db_refuse_below=10.0, gate=False)
    with pytest.raises(ConfigError, match=r"did you mean 'quality\.reference\.snr_db_warn_below'"):
        load_config(_config(tmp_path, "snr_db_warn_bellow = 10"))


def test_a_refusal_limit_inside_its_warning_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"snr_db_refuse_below \(30\) must be at most snr_db_warn_below \(25\)"
    ):
        load_config(_config(tmp_path, "snr_db_refuse_below = 30"))


def test_every_limit_names_a_known_measure() -> None:
    assert {lim.measure for lim in limits(ReferenceGates())} == set(MEASURES)


def test_judging_reports_the_refusal_not_also_the_warning() -> None:
    verdicts = judge({"snr_db": 9.0, "speech_ratio": 0.5}, ReferenceGates())
    assert [(v.measure, v.level) for v in verdicts] == [
        ("snr_db", "refuse"),
        ("speech_ratio", "warn"),
    ]
    assert verdicts[0].message == (
        "signal-to-noise ratio too low (measured 9.0 dB, limit 15.0 dB: "
        "quality.reference.snr_db_refuse_below)"
    )
    relaxed = judge({"snr_db": 9.0}, ReferenceGates(gate=False))
    assert [(v.measure, v.level) for v in relaxed] == [("snr_db", "warn")]
    # Measured on decoded tokens, DNSMOS and SNR describe the codec: not judged.
    assert judge({"snr_db": 9.0, "dnsmos_ovrl": 1.0}, ReferenceGates(), "tokens") == []
