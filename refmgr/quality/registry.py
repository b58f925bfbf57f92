"""The one list of scorers, and what each one's numbers are pinned to.

Keys are the ids that manifests, locks and messages use. A scorer module is imported only
when its scorer is loaded (``load_scorer``), so reading this registry costs nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from refmgr.errors import RefmgrError
from refmgr.quality.base import QualityUnavailable, Scorer, check_weight
from refmgr.versions import installed_version

SCORERS: dict[str, str] = {
    "speaker": "refmgr.quality.speaker:SpeakerEncoder",  # resemblyzer GE2E, 256-d
    "dnsmos": "refmgr.quality.dnsmos:Dnsmos",  # Microsoft DNSMOS P.835 via speechmos
    "loudness": "refmgr.quality.loudness:Loudness",  # ITU-R BS.1770 via pyloudnorm
    "vad": "refmgr.quality.vad:VoiceActivity",  # WebRTC VAD
}

# The distributions whose versions each scorer's numbers depend on.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "speaker": ("resemblyzer", "torch", "librosa"),
    "dnsmos": ("speechmos", "onnxruntime", "librosa"),
    "loudness": ("pyloudnorm", "scipy"),
    "vad": ("webrtcvad",),
}

# Weight files shipped inside the scorers' wheels ("package/path" -> sha256). A file that
# does not match is refused before it is loaded (PinMismatch): scores made with other
# weights are not comparable with the ones recorded in manifests and locks.
WEIGHTS: dict[str, dict[str, str]] = {
    "speaker": {
        "resemblyzer/pretrained.pt": (
            "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
        ),
    },
    "dnsmos": {
        "speechmos/dnsmos_models/sig_bak_ovr.onnx": (
            "269fbebdb513aa23cddfbb593542ecc540284a91849ac50516870e1ac78f6edd"
        ),
        "speechmos/dnsmos_models/model_v8.onnx": (
            "9246480c58567bc6affd4200938e77eef49468c8bc7ed3776d109c07456f6e91"
        ),
    },
    "loudness": {},
    "vad": {},
}


def packaged_file(rel: str) -> Path:
    """Where ``package/sub/path`` lies in the installed package, found without importing it."""
    package, _, sub = rel.partition("/")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise QualityUnavailable(f"package '{package}'")
    return Path(next(iter(spec.submodule_search_locations))) / sub


def load_scorer(scorer_id: str, **settings: Any) -> Scorer:
    """Build scorer ``scorer_id``; its library must be installed (QualityUnavailable)."""
    try:
        target = SCORERS[scorer_id]
    except KeyError:
        raise RefmgrError(
            f"unknown scorer '{scorer_id}' (known: {', '.join(sorted(SCORERS))})"
        ) from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise QualityUnavailable(f"scorer '{scorer_id}'", str(e)) from None
    scorer: Scorer = getattr(module, attr)(**settings)
    return scorer


def scorer_pins(scorer_id: str) -> dict[str, str]:
    """Library versions and weight sha256 a scorer's numbers depend on."""
    pins = {dist: installed_version(dist) or "missing" for dist in DISTRIBUTIONS[scorer_id]}
    pins.update({rel: "sha256:" + sha for rel, sha in WEIGHTS[scorer_id].items()})
    return pins


def checked_weight(scorer_id: str, rel: str, override: Path | None = None) -> Path:
    """The weight file ``rel`` of a scorer (or ``override``), after checking its sha256 pin."""
    path = override if override is not None else packaged_file(rel)
    check_weight(path, WEIGHTS[scorer_id][rel], scorer_id)
    return path
