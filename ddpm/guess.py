"""The network's guess against the true noise (the course's lesson 2, "Training", in one picture): a sprite noised to
x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (Ho et al. eq. 4), the network's ε̂(x_t, t), and that example's training loss, the mean
of (ε − ε̂)² over the sprite (Ho et al. eq. 14, the "simple" loss), at one t and at every t."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from .denoiser import Denoiser
from .sampler import q_sample
from .schedule import Schedule


@torch.inference_mode()
def guess(model: Denoiser, x0: torch.Tensor, eps: torch.Tensor, timesteps: list[int],
          schedule: Schedule | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For one sprite x0 (1, 3, 16, 16) on [−1, 1] and its noise ε, at each of `timesteps`: x_t, ε̂ (each (len, 3, 16,
    16)) and the loss mean((ε − ε̂)²) (len,), in one batch, without a class (the all-zero context)."""
    schedule = schedule or Schedule()
    t = torch.tensor(timesteps)
    x0s, epss = x0.expand(len(t), -1, -1, -1), eps.expand(len(t), -1, -1, -1)
    x_t = q_sample(schedule, x0s, t, epss)
    eps_hat = model(x_t, t, torch.zeros(len(t), model.n_cfeat)).float()
    return x_t, eps_hat, ((epss - eps_hat) ** 2).mean(dim=(1, 2, 3))


LOSS_PLOT = (480, 160)


def loss_plot(timesteps: list[int], losses: list[float], marked: int | None = None, size: tuple[int, int] = LOSS_PLOT) -> np.ndarray:
    """The loss over t (T at the left, as the sampler walks), on a log scale, `marked` t as an orange line: uint8 RGB."""
    w, h = size
    left, right, top, bottom = 44, w - 8, 16, h - 18
    T = max(timesteps)
    values = np.log10(np.maximum(np.asarray(losses, float), 1e-4))
    lo, hi = np.floor(values.min()), np.ceil(max(values.max(), values.min() + 1))
    at = lambda t, v: (left + (right - left) * (T - t) / T, bottom - (bottom - top) * (v - lo) / (hi - lo))  # noqa: E731
    canvas = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(canvas)
    for v in np.arange(lo, hi + 1):
        d.line([at(T, v), at(0, v)], fill=(225, 225, 225))
        d.text((2, at(T, v)[1] - 6), f"1e{int(v)}", fill="black")
    d.text((left, 2), "training loss mean((eps - eps_hat)^2) over t (log scale)", fill="black")
    d.text((left, bottom + 4), f"t = {T}", fill="black")
    d.text((right - 30, bottom + 4), "t = 0", fill="black")
    if marked is not None:
        d.line([at(marked, lo), at(marked, hi)], fill=(255, 127, 14), width=2)
    d.line([at(t, v) for t, v in zip(timesteps, values)], fill=(31, 119, 180), width=2)
    return np.asarray(canvas)
