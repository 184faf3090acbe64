"""A small context U-Net for 16×16 sprites, after the course's ContextUnet.

Self-contained (only torch): the config is a dataclass stored in every checkpoint, and
`forward(x, t, c=None)` knows nothing of the noise schedule. Every layer is created in
`__init__`, so the same input always gives the same output. The course's
ResidualConvBlock made a fresh random 1×1 conv inside forward() whenever channel counts
differed; here that shortcut is a registered layer.
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
    n_feat: int = 32  # channels at 16×16; 2·n_feat at 8×8 and 4×4 (the course: 64)
    n_cfeat: int = 5  # length of the context vector (number of classes)
    height: int = 16  # sprites are height × height; must be divisible by 4
    attention: bool = True  # self-attention over the 4×4 bottleneck
    # Also add a (t, c) embedding inside every residual block, as Ho et al.'s U-Net does; the course
    # conditions only the two decoder levels.
    cond_in_blocks: bool = False


def _norm(channels: int) -> nn.GroupNorm:
    # GroupNorm instead of the course's BatchNorm: a sprite's output never depends on its batch.
    return nn.GroupNorm(8, channels)


class ResidualConvBlock(nn.Module):
    """Two 3×3 conv–norm–GELU layers with a residual connection."""

    def __init__(self, in_ch: int, out_ch: int, is_res: bool = False, emb_dim: int = 0) -> None:
        super().__init__()
        self.is_res = is_res
        self.conv1 = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1), _norm(out_ch), nn.GELU())
        self.conv2 = nn.Sequential(nn.Conv2d(out_ch, out_ch, 3, 1, 1), _norm(out_ch), nn.GELU())
        # Registered once, so the block is deterministic (the course built this in forward()).
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if is_res and in_ch != out_ch else nn.Identity()
        self.emb = nn.Linear(emb_dim, out_ch) if emb_dim else None

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        h = self.conv1(x)
        if self.emb is not None:  # shift the features by the block's view of (t, c)
            h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(h)
        if not self.is_res:
            return h
        return (self.shortcut(x) + h) / 1.414  # keep the variance of the sum near 1, as the course does


def _run(layers: nn.Sequential, x: Tensor, emb: Tensor | None) -> Tensor:
    """Apply `layers` in order, handing `emb` to the residual blocks."""
    for layer in layers:
        x = layer(x, emb) if isinstance(layer, ResidualConvBlock) else layer(x)
    return x


class UnetDown(nn.Sequential):
    """Two residual blocks, then halve the resolution."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int = 0) -> None:
        super().__init__(ResidualConvBlock(in_ch, out_ch, True, emb_dim), ResidualConvBlock(out_ch, out_ch, True, emb_dim),
                         nn.MaxPool2d(2))

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        return _run(self, x, emb)


class UnetUp(nn.Module):
    """Double the resolution of [x, skip], then two residual blocks."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int = 0) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.ConvTranspose2d(in_ch, out_ch, 2, 2),
            ResidualConvBlock(out_ch, out_ch, True, emb_dim),
            ResidualConvBlock(out_ch, out_ch, True, emb_dim),
        )

    def forward(self, x: Tensor, skip: Tensor, emb: Tensor | None = None) -> Tensor:
        return _run(self.model, torch.cat((x, skip), 1), emb)


class EmbedFC(nn.Sequential):
    """A two-layer MLP that embeds a vector into `out_ch` channels."""

    def __init__(self, in_dim: int, out_ch: int) -> None:
        super().__init__(nn.Linear(in_dim, out_ch), nn.GELU(), nn.Linear(out_ch, out_ch))


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
        if config.height % 4:
            raise ValueError(f"height must be divisible by 4, got {config.height}")
        self.config = config
        n, n2 = config.n_feat, 2 * config.n_feat
        e = n if config.cond_in_blocks else 0  # width of the per-block (t, c) embedding
        self.init_conv = ResidualConvBlock(config.in_channels, n, True, e)
        self.down1 = UnetDown(n, n, e)  # 16×16 → 8×8
        self.down2 = UnetDown(n, n2, e)  # 8×8 → 4×4
        self.attn = SelfAttention(n2) if config.attention else nn.Identity()
        self.to_vec = nn.Sequential(nn.AvgPool2d(config.height // 4), nn.GELU())
        self.time_dim = n
        self.timeembed1 = EmbedFC(n, n2)
        self.timeembed2 = EmbedFC(n, n)
        self.contextembed1 = EmbedFC(config.n_cfeat, n2)
        self.contextembed2 = EmbedFC(config.n_cfeat, n)
        if config.cond_in_blocks:
            self.timeembed0 = EmbedFC(n, n)
            self.contextembed0 = EmbedFC(config.n_cfeat, n)
        self.up0 = nn.Sequential(
            nn.ConvTranspose2d(n2, n2, config.height // 4, config.height // 4), _norm(n2), nn.ReLU()
        )
        self.up1 = UnetUp(2 * n2, n, e)
        self.up2 = UnetUp(2 * n, n, e)
        self.out = nn.Sequential(nn.Conv2d(2 * n, n, 3, 1, 1), _norm(n), nn.ReLU(), nn.Conv2d(n, config.in_channels, 3, 1, 1))

    def forward(self, x: Tensor, t: Tensor, c: Tensor | None = None) -> Tensor:
        """x: (B, 3, H, W) noisy images; t: (B,) integer timesteps; c: (B, n_cfeat) or None."""
        if c is None:  # unconditional: the all-zero context that context dropout trains for
            c = x.new_zeros(x.shape[0], self.config.n_cfeat)
        c = c.to(x.dtype)
        temb = timestep_embedding(t.reshape(-1).expand(x.shape[0]), self.time_dim).to(x.dtype)
        emb = self.timeembed0(temb) + self.contextembed0(c) if self.config.cond_in_blocks else None
        x = self.init_conv(x, emb)
        down1 = self.down1(x, emb)
        down2 = self.attn(self.down2(down1, emb))
        # The course's conditioning: scale by the context embedding, shift by the time embedding.
        cemb1 = self.contextembed1(c)[:, :, None, None]
        temb1 = self.timeembed1(temb)[:, :, None, None]
        cemb2 = self.contextembed2(c)[:, :, None, None]
        temb2 = self.timeembed2(temb)[:, :, None, None]
        up1 = self.up0(self.to_vec(down2))
        up2 = self.up1(cemb1 * up1 + temb1, down2, emb)
        up3 = self.up2(cemb2 * up2 + temb2, down1, emb)
        return self.out(torch.cat((up3, x), 1))
