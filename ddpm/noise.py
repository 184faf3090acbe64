"""A seed's noise, drawn bit for bit alike in Python and in the page's JavaScript (demo/web/noise.js).

Sprite i of seed s has its own stream of N(0, 1) values: draw 0 is its x_T, draw k the z of its k-th step.
Value j of draw d is a pure function of (s, i, d, j), a counter-based generator (Salmon et al. 2011):

    key  = h(h(s) ^ i)                      h: Wellons' "lowbias32" integer hash, a bijection of uint32
    bits = h(h(c) ^ key),  c = d·3·16·16 + j   two 32-bit words per Box–Muller pair, c even then odd
    u1 = (bits_even + ½)/2^32 ∈ (0, 1),  u2 = bits_odd/2^32 ∈ [0, 1)
    value j, j + 1 = √(−2 ln u1)·(cos 2πu2, sin 2πu2)   (Box & Muller 1958), rounded to float32.

ln, cos and sin are written here with + − × ÷ and √ only, which IEEE 754 rounds exactly alike in every
language, instead of the platform's libm, which need not agree with the browser's to the last bit.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

SPRITE_SHAPE = (3, 16, 16)
PER_DRAW = 3 * 16 * 16  # values a sprite draws a step
MAX_WORD = 2**32 - 1  # sprite indices and counters are uint32 words of the hash
# Seeds are words too, but stop at 2^31 − 1: the page's slider and JavaScript's bitwise integers are signed 32-bit,
# so every seed the library takes, the page can show and draw alike.
MAX_SEED = 2**31 - 1
LN2 = 0.6931471805599453
HALF_PI = 1.5707963267948966
SQRT_HALF = 0.7071067811865476
# Series coefficients, made by the same divisions in noise.js: 1/(2k+1) for atanh, ±1/n! for sin and cos.
ATANH = [1 / (2 * k + 1) for k in range(12)]  # ln m = 2·atanh(s), |s| ≤ 0.172: s^23/23 < 1e-19
INV_FACTORIAL = [1.0]
for _n in range(1, 20):
    INV_FACTORIAL.append(INV_FACTORIAL[-1] / _n)
SIN = [(-1) ** k * INV_FACTORIAL[2 * k + 1] for k in range(9)]  # φ ≤ π/4: φ^19/19! < 1e-18
COS = [(-1) ** k * INV_FACTORIAL[2 * k] for k in range(10)]


def hash32(x: np.ndarray) -> np.ndarray:
    """lowbias32 (C. Wellons, "Prospecting for hash functions", 2018): a bijection of uint32 with strong avalanche."""
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)  # wraps mod 2^32, as Math.imul does
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def _horner(coefficients: Sequence[float], w: np.ndarray) -> np.ndarray:
    acc = np.full_like(w, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc = acc * w + c
    return acc


def _log_unit(bits: np.ndarray) -> np.ndarray:
    """ln((bits + ½)/2^32): u = m·2^e exactly, m ∈ [√½, √2), ln u = e·ln 2 + 2·atanh((m − 1)/(m + 1))."""
    b = bits.astype(np.float64)
    _, top = np.frexp(b)  # b < 2^top: b + ½ < 2^top as well, and ≥ 2^(top−1) (top = 0 for b = 0)
    m = (b + 0.5) / np.ldexp(1.0, top)  # ∈ [½, 1), exact: a power of two
    e = top.astype(np.float64) - 32
    low = m < SQRT_HALF
    m = np.where(low, m * 2, m)
    e = np.where(low, e - 1, e)
    s = (m - 1) / (m + 1)
    return e * LN2 + 2 * s * _horner(ATANH, s * s)


def _cos_sin_turn(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of 2π·bits/2^32: the top two bits pick the quadrant, the rest an angle reduced to [0, π/4]."""
    quadrant = bits >> np.uint32(30)
    r = (bits & np.uint32(0x3FFFFFFF)).astype(np.float64) / 2**30  # ∈ [0, 1): the angle within the quadrant, in quarter turns
    upper = r > 0.5
    phi = np.where(upper, 1 - r, r) * HALF_PI  # 1 − r is exact
    w = phi * phi
    sin, cos = phi * _horner(SIN, w), _horner(COS, w)
    s, c = np.where(upper, cos, sin), np.where(upper, sin, cos)  # sin(π/2 − φ) = cos φ
    cos_q = np.choose(quadrant, [c, -s, -c, s])
    sin_q = np.choose(quadrant, [s, c, -s, -c])
    return cos_q, sin_q


def sprite_keys(seed: int, sprites: np.ndarray) -> np.ndarray:
    """Each sprite's key of `seed`: h(h(seed) ^ sprite)."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed}")
    return hash32(hash32(np.array([seed], np.uint32)) ^ sprites.astype(np.uint32))


def normal(keys: np.ndarray, draw: int, count: int = PER_DRAW) -> np.ndarray:
    """Values 0 … count − 1 (count even) of `draw` for each key: float32 (len(keys), count)."""
    counters = np.arange(count, dtype=np.uint64) + np.uint64(draw) * np.uint64(count)
    if count % 2 or counters[-1] > MAX_WORD:
        raise ValueError(f"need an even count and draw·count + count ≤ 2^32, got draw {draw}, count {count}")
    bits = hash32(hash32(counters.astype(np.uint32))[None, :] ^ keys[:, None])
    radius = np.sqrt(-2 * _log_unit(bits[:, 0::2]))
    cos, sin = _cos_sin_turn(bits[:, 1::2])
    out = np.empty(bits.shape, np.float32)
    out[:, 0::2], out[:, 1::2] = radius * cos, radius * sin
    return out


class SpriteNoise:
    """The noise streams of some sprites of a seed, drawn together: draw() gives each its next (3, 16, 16) values.

    Sprite i of seed s is the same wherever it is drawn, however many are drawn with it. A sprite given as None draws
    zeros (the z = 0 arm)."""

    def __init__(self, seed: int, sprites: Sequence[int | None], draws: int = 0) -> None:
        self.seed, self.sprites, self.draws = seed, tuple(sprites), draws
        drawn = [i for i in self.sprites if i is not None]
        if any(not 0 <= i <= MAX_WORD for i in drawn):
            raise ValueError(f"sprite indices must be from 0 to {MAX_WORD}")
        self._rows = [k for k, i in enumerate(self.sprites) if i is not None]
        self._keys = sprite_keys(seed, np.array(drawn, np.int64))

    def __len__(self) -> int:
        return len(self.sprites)

    def __getitem__(self, rows: slice) -> SpriteNoise:
        """Some of the sprites, at the same place in their streams."""
        return SpriteNoise(self.seed, self.sprites[rows], self.draws)

    def padded(self, silent: int) -> SpriteNoise:
        """These sprites and `silent` more rows that draw zeros, at the same place in their streams."""
        return SpriteNoise(self.seed, (*self.sprites, *([None] * silent)), self.draws)

    def draw(self) -> Tensor:
        """Every sprite's next draw: (len, 3, 16, 16) float32."""
        out = np.zeros((len(self), PER_DRAW), np.float32)
        if self._rows:
            out[self._rows] = normal(self._keys, self.draws)
        self.draws += 1
        return torch.from_numpy(out).reshape(len(self), *SPRITE_SHAPE)


def seeded_noise(seed: int, n: int) -> tuple[Tensor, SpriteNoise]:
    """x_T for sprites 0 … n−1 of `seed` (their draw 0), and their streams, ready for the steps' z."""
    noise = SpriteNoise(seed, range(n))
    return noise.draw(), noise
