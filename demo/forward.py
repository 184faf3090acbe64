"""The forward process for the demo: sprites noised step by step with the same schedule, t = 0 … T.

q(x_t | x0) = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (Ho et al. eq. 4) with one ε per sprite held for the whole walk, so
the frames show one drop of ink spreading, not fresh noise each frame. ε is the seed's x_T: noised to
t = T, the final sprites of a run come back to the noise it started from, with √ᾱ_T ≈ 0.08 of them left.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from ddpm import Schedule, q_sample, seeded_noise
from ddpm.data import to_tensor, to_uint8

from .frames import Frame
from .serving import on_sampler_thread


def forward_timesteps(frames: int, T: int = Schedule.T) -> list[int]:
    """`frames` timesteps from 0 to T, evenly spread, both ends included."""
    return sorted({round(k * T / max(1, frames - 1)) for k in range(frames)})


def forward_views(sprites: np.ndarray, seed: int, timesteps: list[int]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(x_t, ε, x0) as uint8 sprites at each of `timesteps`, for uint8 sprites x0 and the seed's ε; torch work, one thread."""
    x0 = to_tensor(sprites)
    eps = seeded_noise(seed, len(x0))[0]
    schedule = Schedule()
    noise, clean = to_uint8(eps * 0.5), sprites  # ε halved so that ±2σ fills the range, as in the reverse views
    return [(to_uint8(q_sample(schedule, x0, torch.full((len(x0),), t), eps)), noise, clean) for t in timesteps]


def forward_frames(sprites: np.ndarray, seed: int, *, seconds: float = 5.0, fps: float = 4.0,
                   clock: Callable[[], float] = time.perf_counter, sleep: Callable[[float], None] = time.sleep) -> Iterator[Frame]:
    """The forward process of `sprites` as frames paced over about `seconds`, t = 0 first and T last."""
    timesteps = forward_timesteps(max(2, round(seconds * fps) + 1))
    views = on_sampler_thread(lambda: forward_views(sprites, seed, timesteps))
    start = clock()
    for k, (t, view) in enumerate(zip(timesteps, views)):
        if k:
            sleep(max(0.0, start + k / fps - clock()))
        yield Frame(t, k, len(timesteps) - 1, clock() - start, (view,))
