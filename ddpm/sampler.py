"""The forward process and the samplers; each sampler is a generator yielding one `Step` per step.

Every sampler walks the schedule it is given: the caller respaces (`Schedule.respace`), and
`sampler` does so for the two kinds the project offers.

Seed scheme (ddpm/noise.py): sprite i of seed s draws all of its randomness, its x_T and then its z at
every step, from its own counter-based stream, which the page's JavaScript draws bit for bit alike.
So a sprite depends only on (s, i), never on how many are drawn at once, nor on the device or the
language that draws it.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .denoiser import Denoiser
from .noise import SpriteNoise
from .schedule import Schedule

Kind = Literal["ddpm", "ddim"]
KINDS: tuple[Kind, ...] = ("ddpm", "ddim")
DDIM_STEPS = 25  # DDIM's default, as in lesson 4; DDPM walks every step of the schedule by default


def default_steps(kind: Kind, T: int = Schedule.T) -> int:
    """Steps a sampler walks unless told: DDPM every step of the schedule, DDIM 25 (or T if fewer)."""
    return T if kind == "ddpm" else min(DDIM_STEPS, T)


@dataclass(frozen=True)
class Step:
    """One denoising step: x_t → x (= x_{t−1}), with what the model saw and predicted."""

    t: int  # the step's timestep (of the model), T … 1
    x: Tensor  # x_{t−1}, the new sample
    eps: Tensor  # ε̂, the predicted noise in x_t
    x0: Tensor  # x̂0, the clean image implied by ε̂ (Ho et al. eq. 15)
    z: Tensor  # the fresh noise added this step, λ·s3·z (zeros at t = 1 and without noise)


def q_sample(schedule: Schedule, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """The forward process in closed form, x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (Ho et al. eq. 4), t per sprite."""
    ab = schedule.ab_t.to(x0.device)[t.to(x0.device)].reshape(-1, *([1] * (x0.ndim - 1)))
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def predict_x0(schedule: Schedule, x_t: Tensor, t: int | Tensor, pred_noise: Tensor) -> Tensor:
    """x̂0 = (x_t − √(1 − ᾱ_t)·ε̂)/√ᾱ_t: eq. 4 solved for x0 (Ho et al. eq. 15); one t, or a (B,) tensor of one per row."""
    ab = _per_sprite(schedule.ab_t[torch.as_tensor(t, device=schedule.ab_t.device)], x_t)
    return (x_t - (1 - ab).sqrt() * pred_noise) / ab.sqrt()


def denoise_add_noise(schedule: Schedule, x_t: Tensor, t: int, pred_noise: Tensor, z: Tensor) -> Tensor:
    """x_{t−1} = s1·(x_t − s2·ε̂) + s3·z: Algorithm 2 of Ho et al. (2020), line 4, with σ_t² = β_t."""
    return schedule.s1[t] * (x_t - schedule.s2[t] * pred_noise) + schedule.s3[t] * z


def full_context(model: Denoiser, x: Tensor, context: Tensor | None) -> Tensor:
    """The (B, n_cfeat) context of every call: the one given, or the all-zero "no class" one that context dropout trains."""
    return context.to(x) if context is not None else x.new_zeros(len(x), model.n_cfeat)


def _model_call(model: Denoiser, x: Tensor, t_model: Tensor, c: Tensor) -> Tensor:
    # The contract's full shapes (ddpm/denoiser.py): the step's one timestep for every row.
    return model(x, t_model.to(x.device).expand(len(x)), c).to(x.dtype)


def _draw(noise: SpriteNoise | None, x: Tensor) -> Tensor:
    """The step's z ~ N(0, I) for every row: each sprite's next draw, or torch's global generator without streams."""
    if noise is None:
        return torch.randn_like(x)
    if len(noise) != len(x):
        raise ValueError(f"need one noise stream per sprite: got {len(noise)} for {len(x)} sprites")
    return noise.draw().to(x)


def _per_sprite(value: float | Tensor, x: Tensor) -> Tensor:
    """A scalar or a (B,) tensor, shaped to broadcast over a (B, C, H, W) batch."""
    value = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    return value.reshape(-1, *([1] * (x.ndim - 1))) if value.ndim else value


@torch.inference_mode()
def sample_ddpm(
    model: Denoiser,
    schedule: Schedule,
    x_T: Tensor,
    *,
    noise_scale: float | Tensor = 1.0,
    noise: SpriteNoise | None = None,
    context: Tensor | None = None,
) -> Iterator[Step]:
    """Ancestral DDPM sampling (the course's loop) over every step of `schedule`, t = T … 1.

    noise_scale λ multiplies s3·z: 1 is DDPM, 0 the course's no-noise sampler that collapses to
    blurry averages; a (B,) tensor sets it per sprite. As in the course, no noise is added at the
    last step. z comes from each sprite's stream in `noise` (ddpm/noise.py); without one, from torch's
    global generator.
    """
    sched = schedule.to(x_T.device)
    scale = _per_sprite(noise_scale, x_T)
    adds_noise = bool((scale != 0).any())
    c = full_context(model, x_T, context)
    x = x_T
    for i in range(sched.steps, 0, -1):
        # 1. ε̂ = ε_θ(x_t, t): the network's estimate of the noise in x_t (Algorithm 2, line 4).
        eps = _model_call(model, x, sched.t_model[i], c)
        # 2. x̂0 from ε̂ (eq. 15); not needed for the step, shown by the demo's x̂0 view.
        x0 = predict_x0(sched, x, i, eps)
        # 3. z ~ N(0, I) for t > 1, else 0 (Algorithm 2, line 3), scaled by λ.
        z = _draw(noise, x) * scale if i > 1 and adds_noise else torch.zeros_like(x)
        # 4. x_{t−1} = s1·(x_t − s2·ε̂) + s3·z: the posterior mean (eq. 11) plus σ_t·z with σ_t = √β_t.
        x = denoise_add_noise(sched, x, i, eps, z)
        yield Step(int(sched.t_model[i]), x, eps, x0, sched.s3[i] * z)


def sample_side_by_side(
    model: Denoiser,
    schedule: Schedule,
    x_T: Tensor,
    noise: SpriteNoise,
    *,
    noise_scale: float = 1.0,
    context: Tensor | None = None,
) -> Iterator[Step]:
    """DDPM with and without the fresh noise from the same x_T, as one batch of 2n.

    Rows [:n] add λ·s3·z (λ = noise_scale) with z from each sprite's stream in `noise`; rows [n:]
    are the course's z = 0 sampler. `context` is given for the n sprites and used for both halves.
    """
    n = len(x_T)
    scale = torch.cat([torch.full((n,), float(noise_scale)), torch.zeros(n)])
    both_context = context.repeat(2, 1) if context is not None else None
    return sample_ddpm(model, schedule, x_T.repeat(2, 1, 1, 1), noise_scale=scale,
                       noise=noise.padded(n), context=both_context)


@torch.inference_mode()
def sample_ddim(model: Denoiser, schedule: Schedule, x_T: Tensor, *, context: Tensor | None = None) -> Iterator[Step]:
    """Deterministic DDIM (η = 0) over every step of `schedule`, usually a respaced one (lesson 4).

    x_{t'} = √ᾱ_{t'}·x̂0 + √(1 − ᾱ_{t'})·ε̂, from timestep t to the next kept t' < t
    (Song et al. 2021, eq. 12 with σ = 0).
    """
    sched = schedule.to(x_T.device)
    c = full_context(model, x_T, context)
    x = x_T
    for i in range(sched.steps, 0, -1):
        eps = _model_call(model, x, sched.t_model[i], c)
        x0 = predict_x0(sched, x, i, eps)
        ab_prev = sched.ab_t[i - 1]
        x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
        yield Step(int(sched.t_model[i]), x, eps, x0, torch.zeros_like(x))


def sampler(
    kind: Kind,
    model: Denoiser,
    x_T: Tensor,
    *,
    steps: int | None = None,
    noise_scale: float = 1.0,
    noise: SpriteNoise | None = None,
    context: Tensor | None = None,
    side_by_side: bool = False,
    schedule: Schedule | None = None,
) -> Iterator[Step]:
    """The step generator for a sampler kind and step count (default: DDPM all T, DDIM 25), on the course's schedule.

    side_by_side (DDPM only) adds the z = 0 arm from the same x_T as a second half of the batch.
    """
    if kind not in KINDS:
        raise ValueError(f"sampler must be one of {', '.join(KINDS)}, got {kind!r}")
    base = schedule or Schedule()
    walked = base.respace(steps or default_steps(kind, base.T))
    if kind == "ddim":
        if side_by_side:
            raise ValueError("the z = 0 arm is a DDPM sampler; DDIM adds no noise to compare against")
        return sample_ddim(model, walked, x_T, context=context)
    if side_by_side:
        if noise is None:
            raise ValueError("side by side needs the sprites' noise streams (seeded_noise)")
        return sample_side_by_side(model, walked, x_T, noise, noise_scale=noise_scale, context=context)
    return sample_ddpm(model, walked, x_T, noise_scale=noise_scale, noise=noise, context=context)


def sample(steps: Iterator[Step]) -> Tensor:
    """Exhaust a sampler and return its final images x_0."""
    last = None
    for last in steps:
        pass
    if last is None:
        raise ValueError("the sampler yielded no steps")
    return last.x
