"""torchaudio.functional stand-in: resample (sinc, Hann window) and melscale_fbanks."""

from __future__ import annotations

import math
from typing import Any

import torch


def _sinc_kernel(
    orig: int, new: int, width_zeros: int, rolloff: float, dtype: torch.dtype | None
) -> tuple[torch.Tensor, int]:
    # orig and new are divided by their gcd; same construction as torchaudio's sinc_interp_hann.
    base = min(orig, new) * rolloff
    width = math.ceil(width_zeros * orig / base)
    idx = torch.arange(-width, width + orig, dtype=dtype or torch.float64)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype)[:, None, None] / new + idx
    t = (t * base).clamp_(-width_zeros, width_zeros)
    window = torch.cos(t * math.pi / width_zeros / 2) ** 2
    t = t * math.pi
    kernel = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    return kernel * window * (base / orig), width


def _apply_kernel(
    waveform: torch.Tensor, orig: int, new: int, kernel: torch.Tensor, width: int
) -> torch.Tensor:
    shape = waveform.size()
    wav = waveform.reshape(-1, shape[-1])
    n, length = wav.shape
    wav = torch.nn.functional.pad(wav, (width, width + orig))
    out = torch.nn.functional.conv1d(wav[:, None], kernel, stride=orig)
    out = out.transpose(1, 2).reshape(n, -1)[..., : math.ceil(new * length / orig)]
    return out.reshape(shape[:-1] + out.shape[-1:])


def resample(
    waveform: torch.Tensor,
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    resampling_method: str = "sinc_interp_hann",
    beta: Any = None,
) -> torch.Tensor:
    if orig_freq == new_freq:
        return waveform
    if resampling_method not in ("sinc_interp_hann", "sinc_interpolation"):
        raise NotImplementedError("torchaudio stand-in: only sinc_interp_hann resampling")
    g = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // g, int(new_freq) // g
    kernel, width = _sinc_kernel(orig, new, lowpass_filter_width, rolloff, waveform.dtype)
    return _apply_kernel(waveform, orig, new, kernel, width)


def _hz_to_mel(freq: float, mel_scale: str) -> float:
    if mel_scale == "htk":
        return 2595.0 * math.log10(1.0 + freq / 700.0)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    if freq >= min_log_hz:
        return min_log_hz / f_sp + math.log(freq / min_log_hz) / logstep
    return freq / f_sp


def _mel_to_hz(mels: torch.Tensor, mel_scale: str) -> torch.Tensor:
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
    freqs = f_sp * mels
    log_t = mels >= min_log_hz / f_sp
    freqs[log_t] = min_log_hz * torch.exp(logstep * (mels[log_t] - min_log_hz / f_sp))
    return freqs


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    norm: str | None = None,
    mel_scale: str = "htk",
) -> torch.Tensor:
    """Triangular mel filterbank, shape (n_freqs, n_mels)."""
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    m_pts = torch.linspace(_hz_to_mel(f_min, mel_scale), _hz_to_mel(f_max, mel_scale), n_mels + 2)
    f_pts = _mel_to_hz(m_pts, mel_scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = torch.max(torch.zeros(1), torch.min(down, up))
    if norm == "slaney":
        fb *= (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])).unsqueeze(0)
    return fb
