"""torchaudio.transforms stand-in: Resample and MelScale."""

from __future__ import annotations

import math
from typing import Any

import torch

from .functional import _apply_kernel, _sinc_kernel, melscale_fbanks


class Resample(torch.nn.Module):
    def __init__(
        self,
        orig_freq: int = 16000,
        new_freq: int = 16000,
        resampling_method: str = "sinc_interp_hann",
        lowpass_filter_width: int = 6,
        rolloff: float = 0.99,
        beta: Any = None,
        *,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        g = math.gcd(int(orig_freq), int(new_freq))
        self.orig, self.new = int(orig_freq) // g, int(new_freq) // g
        kernel, self.width = _sinc_kernel(self.orig, self.new, lowpass_filter_width, rolloff, dtype)
        self.register_buffer("kernel", kernel.to(dtype or torch.float32), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if self.orig == self.new:
            return waveform
        return _apply_kernel(waveform, self.orig, self.new, self.kernel.to(waveform), self.width)


class MelScale(torch.nn.Module):
    def __init__(
        self,
        n_mels: int = 128,
        sample_rate: int = 16000,
        f_min: float = 0.0,
        f_max: float | None = None,
        n_stft: int = 201,
        norm: str | None = None,
        mel_scale: str = "htk",
    ) -> None:
        super().__init__()
        f_max = f_max if f_max is not None else float(sample_rate // 2)
        self.register_buffer(
            "fb", melscale_fbanks(n_stft, f_min, f_max, n_mels, sample_rate, norm, mel_scale)
        )

    def forward(self, specgram: torch.Tensor) -> torch.Tensor:
        return torch.matmul(specgram.transpose(-1, -2), self.fb).transpose(-1, -2)
