"""The denoiser contract: what every sampler calls, and what the U-Net, the engines, guidance and the demo's lanes are."""
from __future__ import annotations

from typing import Protocol

from torch import Tensor


class Denoiser(Protocol):
    """ε̂ = denoiser(x, t, c): the noise predicted in x_t, (B, 3, H, W) in float32.

    x: (B, 3, H, W) noisy sprites; t: (B,) integer timesteps; c: (B, n_cfeat) class contexts, all zeros for "no class"
    (what context dropout trains). Full shapes always: the samplers build them once, at their call (ddpm/sampler.py)."""

    @property
    def n_cfeat(self) -> int:
        """Width of the class context c."""
        ...

    def __call__(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor: ...
