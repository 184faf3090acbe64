"""Power-function EMA of the weights (Karras et al. 2024, "Analyzing and Improving the Training Dynamics of
Diffusion Models", §3.1 and appendix C): an average whose length grows with the run, so it needs no known end."""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn


def sigma_rel_to_gamma(sigma_rel: float) -> float:
    """The exponent γ whose power EMA has relative width σ_rel: the largest root of γ³ + 7γ² + (16 − σ⁻²)γ + 12 − σ⁻² (EDM2, eq. 3)."""
    t = sigma_rel ** -2
    return float(np.roots([1, 7, 16 - t, 12 - t]).real.max())


def power_beta(step: int, gamma: float) -> float:
    """β_t = (1 − 1/t)^(γ+1) for the t-th update (t ≥ 1): the average weighs the i-th weights by ∝ i^γ (EDM2, eq. 2)."""
    return (1 - 1 / step) ** (gamma + 1)


class PowerEMA:
    """A copy of `model` kept as the power-function average of its weights over the training steps so far."""

    def __init__(self, model: nn.Module, sigma_rel: float) -> None:
        self.sigma_rel = sigma_rel
        self.gamma = sigma_rel_to_gamma(sigma_rel)
        self.model = copy.deepcopy(model).requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold in `model`'s weights after training step `step` (1-based)."""
        beta = power_beta(step, self.gamma)
        torch._foreach_lerp_(list(self.model.parameters()), list(model.parameters()), 1 - beta)
