"""Self-conditioning (Chen et al. 2022, "Analog Bits", §3.2): the net also sees its own earlier estimate of x0.

Training feeds, for half the sprites, the net's own x̂0 of the same x_t, made without gradient, and zeros for the
rest; sampling feeds each step the x̂0 of the step before, zeros at the first. The sampler's formula is unchanged:
only the network's input grows (UNetConfig.self_cond).
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from .sampler import predict_x0
from .schedule import Schedule
from .unet import ContextUnet

SHARE = 0.5  # of training's sprites that get an estimate (the paper's 50 %); the rest zeros, as a sampler's first step


def x0_of(schedule: Schedule, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """The estimate the net is fed: x̂0 of each row at its own t (eq. 15), clipped to the data's [−1, 1]."""
    return predict_x0(schedule, x_t, t, eps.float()).clamp(-1, 1)


def training_estimate(model: ContextUnet, schedule: Schedule, x_t: Tensor, t: Tensor, c: Tensor,
                      generator: torch.Generator, share: float = SHARE) -> Tensor:
    """The x0 input of a training batch: the net's own x̂0 of x_t (no gradient) for a random `share` of rows, else 0."""
    x0 = torch.zeros_like(x_t)
    rows = (torch.rand(len(x_t), generator=generator) < share).nonzero().squeeze(1).to(x_t.device)
    if len(rows):
        with torch.no_grad():
            eps = model(x_t[rows], t[rows], c[rows])
        x0[rows] = x0_of(schedule, x_t[rows], t[rows], eps).to(x0.dtype)
    return x0


def widen(plain: ContextUnet) -> ContextUnet:
    """The self-conditioned net that computes what `plain` does: its x0 inputs start with zero weights."""
    net = ContextUnet(replace(plain.config, self_cond=True)).to(next(plain.parameters()).device)
    state = plain.state_dict()
    w = state["in_conv.weight"]
    state["in_conv.weight"] = torch.cat((w, torch.zeros_like(w)), 1)
    net.load_state_dict(state)
    return net


class SelfConditioned:
    """A Denoiser (ddpm/denoiser.py) from a self-conditioned net: each call feeds the x̂0 of its call before, row by row.

    A row starts afresh (zeros) wherever its t does not fall from the call before: a new walk, as at a sampler's first
    step, or a batch of another size. So a sprite's walk is the same alone or among 64, and one wrapper serves run after run."""

    def __init__(self, net, schedule: Schedule | None = None) -> None:
        if not net.config.self_cond:
            raise ValueError("the net was not trained with self-conditioning (UNetConfig.self_cond)")
        self.net, self.schedule = net, schedule or Schedule()
        self.n_cfeat = net.config.n_cfeat
        self.x0: Tensor | None = None
        self.t: Tensor | None = None

    def __call__(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        """ε̂(x_t, t, c, x̂0 of the row's previous step) in float32; keeps this call's x̂0 for the next."""
        before = torch.zeros_like(x)
        if self.x0 is not None and self.x0.shape == x.shape:
            going_on = (t.to(self.t.device) < self.t).to(x.device)
            before[going_on] = self.x0[going_on].to(x)
        eps = self.net(x, t, c, before).float()
        self.x0, self.t = x0_of(self.schedule, x, t, eps), t.clone()
        return eps
