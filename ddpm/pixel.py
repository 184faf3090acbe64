"""Inside one step, for one pixel: the numbers that go into x_{t−1} = s1·(x_t − s2·ε̂) + s3·z and into x̂0, at every
step of a DDPM walk, as a teacher shows them at the board (issue 35), and a small plot of the pixel's x_t and x̂0."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from .sampler import Step
from .schedule import Schedule


@dataclass(frozen=True)
class PixelStep:
    """One step at one pixel and channel: what went in and what came out (values on [−1, 1])."""

    t: int  # the step's timestep, T … 1
    x_t: float  # the pixel before the step
    eps: float  # ε̂ there
    z: float  # the fresh noise z ~ N(0, 1) drawn for it (0 at t = 1)
    lam: float  # λ, the extra-noise scale (0 on the z = 0 arm)
    s1: float
    s2: float
    s3: float
    sqrt_ab: float  # √ᾱ_t
    sqrt_1_ab: float  # √(1 − ᾱ_t)
    x_prev: float  # x_{t−1}, as the sampler computed it
    x0: float  # x̂0, as the sampler computed it


def trace(walk: Iterable[Step], x_T: torch.Tensor, schedule: Schedule, row: int, y: int, x: int,
          noise_scale: float) -> list[list[PixelStep]]:
    """Each channel's PixelSteps, t = T … 1, of batch row `row` at pixel (x, y) of a DDPM walk over `schedule` that
    started at x_T (λ = noise_scale for that row)."""
    # Each of the walk's tensors at the pixel, gathered once as (steps, 3) lists: one conversion, not one per number.
    steps = list(walk)
    at = lambda tensors: torch.stack([v[row, :, y, x] for v in tensors]).tolist()  # noqa: E731
    x_t, eps, added, x_prev, x0 = (at(vs) for vs in ([x_T, *(st.x for st in steps[:-1])], [st.eps for st in steps],
                                                     [st.z for st in steps], [st.x for st in steps], [st.x0 for st in steps]))
    index = list(range(schedule.steps, 0, -1))
    s1, s2, s3 = (getattr(schedule, name)[index].tolist() for name in ("s1", "s2", "s3"))
    ab = schedule.ab_t[index]
    sqrt_ab, sqrt_1_ab = ab.sqrt().tolist(), (1 - ab).sqrt().tolist()
    return [[PixelStep(st.t, x_t[k][ch], eps[k][ch],
                       added[k][ch] / (s3[k] * noise_scale) if s3[k] and noise_scale else 0.0,  # added is λ·s3·z
                       noise_scale, s1[k], s2[k], s3[k], sqrt_ab[k], sqrt_1_ab[k], x_prev[k][ch], x0[k][ch])
             for k, st in enumerate(steps)] for ch in range(3)]


def _n(v: float) -> str:
    """A number as the panel shows it: four significant figures and a minus sign."""
    return f"{v:.4g}".replace("-", "−")


def _b(v: float) -> str:
    """A number as a factor: negatives in brackets."""
    return f"({_n(v)})" if v < 0 else _n(v)


def step_text(p: PixelStep) -> str:
    """x_{t−1} = s1·(x_t − s2·ε̂) + s3·z with the numbers put in (λ shown where it is not 1)."""
    lam = "" if p.lam == 1 else "·λ"
    lam_n = "" if p.lam == 1 else f"·{_b(p.lam)}"
    return (f"x_{{t−1}} = s1·(x_t − s2·ε̂) + s3{lam}·z = {_n(p.s1)}·({_n(p.x_t)} − {_n(p.s2)}·{_b(p.eps)}) + "
            f"{_n(p.s3)}{lam_n}·{_b(p.z)} = {_n(p.x_prev)}")


def x0_text(p: PixelStep) -> str:
    """x̂0 = (x_t − √(1 − ᾱ_t)·ε̂)/√ᾱ_t with the numbers put in (Ho et al. eq. 15)."""
    return f"x̂0 = (x_t − √(1 − ᾱ_t)·ε̂)/√ᾱ_t = ({_n(p.x_t)} − {_n(p.sqrt_1_ab)}·{_b(p.eps)})/{_n(p.sqrt_ab)} = {_n(p.x0)}"


PLOT_SIZE = (480, 200)
COLOURS = ((214, 39, 40), (44, 160, 44), (31, 119, 180))  # R, G, B channels


def plot(arms: Sequence[tuple[str, list[list[PixelStep]]]], marked: int | None = None, size: tuple[int, int] = PLOT_SIZE) -> np.ndarray:
    """The pixel's x_t (solid) and x̂0 (dotted, clipped to [−1, 1]) over t, T at the left and 0 at the right, per
    channel in its colour, one panel per arm, the step `marked` (a t) as an orange line: a uint8 RGB image."""
    w, h = size
    canvas = Image.new("RGB", (w, h * len(arms)), "white")
    d = ImageDraw.Draw(canvas)
    for a, (name, channels) in enumerate(arms):
        top = a * h
        T = channels[0][0].t
        left, right, up, down = 34, w - 8, top + 16, top + h - 18

        def at(t: float, v: float) -> tuple[float, float]:
            v = max(-1.2, min(1.2, v))
            return left + (right - left) * (T - t) / T, up + (down - up) * (1.2 - v) / 2.4

        for v in (-1, 0, 1):
            d.line([at(T, v), at(0, v)], fill=(225, 225, 225))
            d.text((4, at(T, v)[1] - 6), f"{v:+d}" if v else "0", fill="black")
        d.text((left, top + 2), f"{name}: x_t (solid), x0 predicted (dots), R G B", fill="black")
        d.text((left, down + 4), f"t = {T}", fill="black")
        d.text((right - 30, down + 4), "t = 0", fill="black")
        if marked is not None:
            d.line([at(marked, 1.2), at(marked, -1.2)], fill=(255, 127, 14), width=2)
        for steps, colour in zip(channels, COLOURS):
            line = [at(p.t, p.x_t) for p in steps] + [at(steps[-1].t - 1, steps[-1].x_prev)]
            d.line(line, fill=colour, width=2)
            for p in steps[:: max(1, len(steps) // 60)]:
                cx, cy = at(p.t, max(-1, min(1, p.x0)))
                d.ellipse([cx - 1, cy - 1, cx + 1, cy + 1], fill=colour)
    return np.asarray(canvas)
