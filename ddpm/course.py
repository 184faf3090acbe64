"""The course notebook's own network and sampling loop (lesson 1), kept as the benchmark's anchor.

Written as the notebook has them, cost and all: BatchNorm, a scalar t/T embedded by a small MLP,
a fresh random 1×1 convolution built inside `forward` for the first block's shortcut, and a loop
that copies an intermediate frame to numpy every 20 steps. Only `python -m ddpm bench` uses it;
its weights are random, since only its time is measured.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .schedule import Schedule


class ResidualConvBlock(nn.Module):
    """The course's block: two conv–BatchNorm–GELU layers, residual only where asked."""

    def __init__(self, in_channels: int, out_channels: int, is_res: bool = False) -> None:
        super().__init__()
        self.same_channels = in_channels == out_channels
        self.is_res = is_res
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels), nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, 1, 1), nn.BatchNorm2d(out_channels), nn.GELU())

    def forward(self, x: Tensor) -> Tensor:
        x2 = self.conv2(self.conv1(x))
        if not self.is_res:
            return x2
        if self.same_channels:
            return (x + x2) / 1.414
        shortcut = nn.Conv2d(x.shape[1], x2.shape[1], kernel_size=1, stride=1, padding=0).to(x.device)  # as the course does
        return (shortcut(x) + x2) / 1.414


class CourseContextUnet(nn.Module):
    """The course's ContextUnet (n_feat 64, n_cfeat 5, height 16 in lesson 1's sprites notebook)."""

    def __init__(self, in_channels: int = 3, n_feat: int = 64, n_cfeat: int = 5, height: int = 16) -> None:
        super().__init__()
        self.n_feat, self.n_cfeat = n_feat, n_cfeat

        def down(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(ResidualConvBlock(i, o), ResidualConvBlock(o, o), nn.MaxPool2d(2))

        def embed(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.Flatten(), nn.Linear(i, o), nn.GELU(), nn.Linear(o, o))

        def up(i: int, o: int) -> nn.Sequential:
            return nn.Sequential(nn.ConvTranspose2d(i, o, 2, 2), ResidualConvBlock(o, o), ResidualConvBlock(o, o))

        self.init_conv = ResidualConvBlock(in_channels, n_feat, is_res=True)
        self.down1, self.down2 = down(n_feat, n_feat), down(n_feat, 2 * n_feat)
        self.to_vec = nn.Sequential(nn.AvgPool2d(4), nn.GELU())
        self.timeembed1, self.timeembed2 = embed(1, 2 * n_feat), embed(1, n_feat)
        self.contextembed1, self.contextembed2 = embed(n_cfeat, 2 * n_feat), embed(n_cfeat, n_feat)
        self.up0 = nn.Sequential(nn.ConvTranspose2d(2 * n_feat, 2 * n_feat, height // 4, height // 4),
                                 nn.GroupNorm(8, 2 * n_feat), nn.ReLU())
        self.up1, self.up2 = up(4 * n_feat, n_feat), up(2 * n_feat, n_feat)
        self.out = nn.Sequential(nn.Conv2d(2 * n_feat, n_feat, 3, 1, 1), nn.GroupNorm(8, n_feat), nn.ReLU(),
                                 nn.Conv2d(n_feat, in_channels, 3, 1, 1))

    def forward(self, x: Tensor, t: Tensor, c: Tensor | None = None) -> Tensor:
        """x: (B, 3, 16, 16); t: t/T as the course feeds it, (1, 1, 1, 1) or (B, 1, 1, 1)."""
        x = self.init_conv(x)
        down1 = self.down1(x)
        down2 = self.down2(down1)
        if c is None:
            c = torch.zeros(x.shape[0], self.n_cfeat).to(x)
        n = self.n_feat
        cemb1, temb1 = self.contextembed1(c).view(-1, 2 * n, 1, 1), self.timeembed1(t).view(-1, 2 * n, 1, 1)
        cemb2, temb2 = self.contextembed2(c).view(-1, n, 1, 1), self.timeembed2(t).view(-1, n, 1, 1)
        up1 = self.up0(self.to_vec(down2))
        up2 = self.up1(torch.cat((cemb1 * up1 + temb1, down2), 1))
        up3 = self.up2(torch.cat((cemb2 * up2 + temb2, down1), 1))
        return self.out(torch.cat((up3, x), 1))


@torch.no_grad()
def notebook_sample(model: nn.Module, schedule: Schedule, x_T: Tensor, *, noise: bool = True, save_rate: int = 20) -> Tensor:
    """The notebook's `sample_ddpm` (or, with noise=False, its no-noise sampler), from x_T."""
    samples, intermediate = x_T, []
    T = schedule.T
    for i in range(T, 0, -1):
        t = torch.tensor([i / T])[:, None, None, None]
        z = torch.randn_like(samples) if noise and i > 1 else 0
        eps = model(samples, t)
        samples = schedule.s1[i] * (samples - eps * schedule.s2[i]) + schedule.s3[i] * z  # the notebook's denoise_add_noise
        if i % save_rate == 0 or i == T or i < 8:
            intermediate.append(samples.detach().cpu().numpy())
    np.stack(intermediate)
    return samples
