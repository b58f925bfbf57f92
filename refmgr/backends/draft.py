"""The draft engine: a scratch voice for timing and CI, not a clone.

eSpeak NG (PyPI ``espeakng-loader``, no GPU, no weights) speaks each line with its pitch
and speaking rate set from the reference's voice profile: the median F0 and words per
minute that ``refmgr add`` stores in the manifest, or, for a manifest without them, the
same measure taken on the reference's decoded tokens. The lock marks its outputs draft.

The mapping from a profile to eSpeak settings is a calibration measured by
scripts/calibrate_draft.py: eSpeak's pitch 0..100 and rate in words/min are its own
scales, and the profile measures speech the way ``add`` does (pauses included).
Deterministic: every utterance runs in a fresh eSpeak process (see espeak.py), so the
same line gives the same bytes whatever was rendered before it. eSpeak has no randomness
of its own; the seed varies the delivery a little instead (``seeded_voice``): seed 0 is
the calibrated voice, any other seed a rate and pitch up to a few percent off it, always
the same for the same seed. That is what gives a retake (see render/takes.py) of a draft
line something to choose from, as a sampling seed does for Fish Speech.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from refmgr.backends.base import EngineSpec, Synthesis, VoiceReference
from refmgr.backends.espeak import Voice, library_version, speak
from refmgr.errors import BackendError
from refmgr.params import SynthesisParams

# Bump when the tables or the way they are used change: every draft line renders again.
CALIBRATION = "2026-1"

# eSpeak pitch settings and the median F0 (Hz) measured for each, per register. The
# default en-us voice is unusable below pitch 30 (its F0 drops under what the profile
# measures); a female variant covers the upper range. Not f2, f3 or f5: their "breath"
# noise differs from one process to the next, and drafts must be byte-reproducible.
HIGH_VARIANT = "f4"
REGISTERS: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "": (
        (30, 40, 50, 60, 70, 80, 90, 100),
        (98.8, 102.6, 106.0, 113.5, 125.0, 137.9, 153.8, 170.2),
    ),
    HIGH_VARIANT: (
        (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100),
        (116.8, 126.0, 134.5, 146.8, 161.6, 179.8, 197.5, 222.2, 246.2, 275.9, 307.7),
    ),
}
HIGH_REGISTER_HZ = 155.0  # at and above: the female variant
# eSpeak rate settings (words/min) and the speaking rate the profile measures for each.
RATE_TABLE: tuple[tuple[int, ...], tuple[float, ...]] = (
    (80, 120, 150, 175, 200, 250, 300, 350, 450),
    (104.1, 149.0, 187.9, 220.4, 252.0, 314.5, 380.8, 445.7, 560.0),
)
DEFAULT_PITCH, DEFAULT_RATE = 50, 175  # when a reference has no measurable profile
# How far a seed moves the delivery from the calibrated voice: the rate by up to this
# fraction either way, the pitch by up to this many steps of eSpeak's 0..100 scale. Small
# enough to stay the same character, large enough to change a line's timing noticeably.
# Bump PROSODY when this or seeded_voice changes: every draft line with a seed renders again.
PROSODY = "seed-1"
SEED_RATE_SPREAD = 0.12
SEED_PITCH_SPREAD = 6


class DraftEngine:
    def __init__(
        self,
        spec: EngineSpec,
        *,
        device: str | None = None,
        settings: Any = None,
        checkpoint: Any = None,  # no weights
    ) -> None:
        try:
            import espeakng_loader  # noqa: F401
        except ImportError:
            raise BackendError(
                f"engine 'draft' needs eSpeak NG; install it with: {spec.install_hint}"
            ) from None
        if device not in (None, "auto", "cpu"):
            raise BackendError(
                f"engine 'draft' runs on the CPU only; drop --device {device} or use --device cpu"
            )
        self.spec = spec
        self.language_voice: str = getattr(settings, "voice", "en-us")
        _check_voice(self.language_voice)
        self._profiles: dict[str, tuple[float | None, float | None]] = {}

    def pins(self) -> dict[str, Any]:
        return {
            "espeakng-loader": library_version(),
            "voice": self.language_voice,
            "calibration": CALIBRATION,
            "prosody": PROSODY,
        }

    def synthesize(
        self, reference: VoiceReference, text: str, params: SynthesisParams
    ) -> Synthesis:
        pcm, rate = speak(text, seeded_voice(self.voice_for(reference), params.seed))
        return Synthesis(audio=(pcm.astype(np.float32) / 32768.0), sample_rate=rate)

    def voice_for(self, reference: VoiceReference) -> Voice:
        f0, wpm = self._profile(reference)
        name, pitch = self.language_voice, DEFAULT_PITCH
        if f0 is not None:
            variant = HIGH_VARIANT if f0 >= HIGH_REGISTER_HZ else ""
            pitches, measured = REGISTERS[variant]
            pitch = round(float(np.interp(f0, measured, pitches)))
            name += f"+{variant}" if variant else ""
        rate = DEFAULT_RATE
        if wpm is not None:
            rate = round(float(np.interp(wpm, RATE_TABLE[1], RATE_TABLE[0])))
        return Voice(name=name, rate_wpm=rate, pitch=pitch)

    def _profile(self, reference: VoiceReference) -> tuple[float | None, float | None]:
        stored = reference.profile
        f0, wpm = stored.get("f0_median_hz"), stored.get("speaking_rate_wpm")
        if f0 is not None and wpm is not None:
            return f0, wpm
        if reference.tokens_sha256 not in self._profiles:
            self._profiles[reference.tokens_sha256] = _decoded_profile(reference)
        decoded_f0, decoded_wpm = self._profiles[reference.tokens_sha256]
        return (f0 if f0 is not None else decoded_f0), (wpm if wpm is not None else decoded_wpm)

    def close(self) -> None:
        self._profiles.clear()


def seeded_voice(voice: Voice, seed: int) -> Voice:
    """``voice`` as seed ``seed`` delivers it: itself for seed 0, else a rate and pitch moved
    by amounts drawn from the seed's hash (so nearby seeds are unrelated)."""
    if seed == 0:
        return voice
    digest = hashlib.sha256(f"refmgr draft prosody {seed}".encode()).digest()
    # Two uniform draws in [-1, 1] from the first 8 bytes.
    rate_draw, pitch_draw = (
        int.from_bytes(digest[i : i + 4], "big") / 0xFFFFFFFF * 2 - 1 for i in (0, 4)
    )
    rate = round(voice.rate_wpm * (1 + SEED_RATE_SPREAD * rate_draw))
    pitch = round(voice.pitch + SEED_PITCH_SPREAD * pitch_draw)
    return Voice(
        name=voice.name,
        rate_wpm=min(max(rate, RATE_TABLE[0][0]), RATE_TABLE[0][-1]),
        pitch=min(max(pitch, 0), 100),
        pitch_range=voice.pitch_range,
    )


def _decoded_profile(reference: VoiceReference) -> tuple[float | None, float | None]:
    """The profile ``add`` would have stored, measured on what the tokens decode to."""
    from refmgr.backends.registry import load_codec
    from refmgr.voice import voice_profile

    codec = load_codec(reference.codec_id)
    audio = codec.decode(reference.codes)
    profile = voice_profile(audio, codec.spec.sample_rate, reference.transcript)
    return profile["f0_median_hz"], profile["speaking_rate_wpm"]


def _check_voice(name: str) -> None:
    """Fail once, up front, rather than on every line: eSpeak NG finds a voice by the file
    name under espeak-ng-data/lang/ (case-insensitive) or by its path there."""
    import espeakng_loader

    lang = Path(espeakng_loader.get_data_path()) / "lang"
    files = [p.relative_to(lang) for p in lang.rglob("*") if p.is_file()]
    known = {p.name.lower() for p in files} | {p.as_posix().lower() for p in files}
    if name.lower() not in known:
        examples = ", ".join(sorted(n for n in known if n.startswith("en"))[:6])
        raise BackendError(
            f"engines.draft.voice: eSpeak NG has no voice '{name}' (English ones: {examples}, ...)"
        )
