"""A small context U-Net for 16×16 sprites: ε_θ(x_t, t, c).

Self-contained (only torch): the config is a dataclass stored in every checkpoint, and
`forward(x, t, c)` (ddpm/denoiser.py's contract) knows nothing of the noise schedule. The layout is Ho et al.'s U-Net
(2020, appendix B) made small: three levels (16×16, 8×8, 4×4) whose width doubles as the
resolution halves, one residual block a level each way, a residual block with self-attention at
4×4, and the (t, c) embedding added in every block. The course's ContextUnet (ddpm/course.py)
spends most of its work on 16×16 features and squeezes 4×4 into one vector; here the work goes
where the picture is small, so the same budget buys about three times the parameters
(weights/README.md, "Which net").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class UNetConfig:
    """Shape of the network; saved inside each checkpoint."""

    in_channels: int = 3
    n_feat: int = 16  # channels at full resolution; a multiple of 8 (GroupNorm's groups)
    channel_mult: tuple[int, ...] = (1, 2, 4)  # width of each level as a multiple of n_feat: 16×16, 8×8, 4×4
    n_cfeat: int = 5  # length of the context vector (number of classes)
    height: int = 16  # sprites are height × height, halved at each level below the first
    attention: bool = True  # self-attention at the lowest level
    self_cond: bool = False  # the previous step's x̂0 as in_channels more inputs (Chen et al. 2022, "Analog Bits", §3.2)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_mult", tuple(self.channel_mult))  # a list when read back from JSON
        if self.n_feat % 8 or self.height % 2 ** (len(self.channel_mult) - 1):
            raise ValueError(f"n_feat must be a multiple of 8 and height divisible by 2^(levels − 1), got {self}")


def _norm(channels: int) -> nn.GroupNorm:
    # GroupNorm, not the course's BatchNorm: a sprite's output never depends on its batch.
    return nn.GroupNorm(8, channels)


class ResBlock(nn.Module):
    """norm–SiLU–conv, add the block's view of (t, c), norm–SiLU–conv, plus a shortcut (Ho et al. 2020, appendix B)."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(_norm(in_ch), nn.SiLU(), nn.Conv2d(in_ch, out_ch, 3, 1, 1))
        self.emb = nn.Linear(emb_dim, out_ch)
        self.out_layers = nn.Sequential(_norm(out_ch), nn.SiLU(), nn.Conv2d(out_ch, out_ch, 3, 1, 1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.in_layers(x) + self.emb(emb)[:, :, None, None]
        return self.skip(x) + self.out_layers(h)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a small feature map, pre-norm, residual."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        b, ch, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # (b, h·w, ch)
        out, _ = self.attn(seq, seq, seq, need_weights=False)
        return x + out.transpose(1, 2).reshape(b, ch, h, w)


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal features of integer timesteps (Vaswani et al. 2017; Ho et al. 2020 §B)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ContextUnet(nn.Module):
    """Predicts the noise ε in x_t, given the timestep t and an optional class context c."""

    def __init__(self, config: UNetConfig = UNetConfig()) -> None:
        super().__init__()
        self.config = config
        widths = [config.n_feat * m for m in config.channel_mult]
        emb = 4 * config.n_feat  # width of the (t, c) embedding, as in Ho et al.
        self.time_mlp = nn.Sequential(nn.Linear(config.n_feat, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.context_mlp = nn.Sequential(nn.Linear(config.n_cfeat, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.in_conv = nn.Conv2d(config.in_channels * (2 if config.self_cond else 1), widths[0], 3, 1, 1)
        self.down = nn.ModuleList(ResBlock(i, o, emb) for i, o in zip(widths[:1] + widths[:-1], widths))
        self.pool = nn.AvgPool2d(2)
        self.attn = SelfAttention(widths[-1]) if config.attention else nn.Identity()
        self.mid = ResBlock(widths[-1], widths[-1], emb)
        # Decoder: each level takes [h, the encoder's features at that level] and goes one level up.
        self.up = nn.ModuleList(ResBlock(2 * w, w, emb) for w in reversed(widths))
        self.upsample = nn.ModuleList(nn.ConvTranspose2d(w, v, 2, 2) for w, v in zip(reversed(widths[1:]), reversed(widths[:-1])))
        self.out = nn.Sequential(_norm(widths[0]), nn.SiLU(), nn.Conv2d(widths[0], config.in_channels, 3, 1, 1))

    @property
    def n_cfeat(self) -> int:
        """Width of the class context c."""
        return self.config.n_cfeat

    def forward(self, x: Tensor, t: Tensor, c: Tensor, x0: Tensor | None = None) -> Tensor:
        """x: (B, 3, H, W) noisy images; t: (B,) integer timesteps; c: (B, n_cfeat) contexts, all zeros for no class;
        x0: (B, 3, H, W), a self-conditioned net's earlier estimate of the clean image (None: zeros, "no estimate yet")."""
        emb = self.time_mlp(timestep_embedding(t, self.config.n_feat).to(x.dtype)) + self.context_mlp(c.to(x.dtype))
        if self.config.self_cond:
            x = torch.cat((x, x0.to(x.dtype) if x0 is not None else torch.zeros_like(x)), 1)
        h = self.in_conv(x)
        skips = []
        for level, block in enumerate(self.down):
            h = block(self.pool(h) if level else h, emb)
            skips.append(h)
        skips[-1] = h = self.attn(h)
        h = self.mid(h, emb)
        for level, block in enumerate(self.up):
            h = block(torch.cat((h, skips.pop()), 1), emb)
            if level < len(self.upsample):
                h = self.upsample[level](h)
        return self.out(h)
