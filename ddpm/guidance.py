"""Guidance: which class each sprite asks for, classifier-free guidance (Ho & Salimans 2022) for sharper
classes from the same model, and autoguidance (Karras et al. 2024) by a weaker copy of the model, for
cleaner sprites with or without a class."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .denoiser import Denoiser

DEFAULT_GUIDANCE = 4.0  # w for class-conditional sampling in the CLI and the demo (weights/README.md)
MIXED = "mixed"  # every class in turn: sprite i asks for class i mod (number of classes)


def class_context(name: str | None, n: int, classes: Sequence[str]) -> Tensor | None:
    """One-hot contexts (n, len(classes)) for n sprites: None for no class, one class for all, or MIXED.

    `classes` are the model's own, in the order of its context vector (`checkpoint.read_classes`)."""
    if name is None:
        return None
    if name == MIXED:
        labels = torch.arange(n) % len(classes)  # by index, so sprite i's class does not depend on n
    elif name in classes:
        labels = torch.full((n,), classes.index(name))
    else:
        raise ValueError(f"class must be one of {', '.join((MIXED, *classes))} or None, got {name!r}")
    return torch.nn.functional.one_hot(labels, len(classes)).float()


def mix_context(weights: Mapping[str, float], n: int, classes: Sequence[str]) -> Tensor:
    """Contexts (n, len(classes)) that ask for several classes at once, each by its weight (the course's lesson 3 mixes).

    {"hero": 1, "food": 0.6} gives every sprite the context [1, 0, 0.6, 0, 0]; one class at weight 1 is that class."""
    unknown = [name for name in weights if name not in classes]
    if unknown:
        raise ValueError(f"mix classes must be among {', '.join(classes)}, got {', '.join(map(repr, unknown))}")
    if not weights or any(not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0) for w in weights.values()):
        raise ValueError(f"mix weights must be finite numbers ≥ 0, at least one of them, got {dict(weights)!r}")
    row = torch.tensor([float(weights.get(name, 0.0)) for name in classes])
    return row.repeat(n, 1)


def guides(weight: float, conditional: bool) -> bool:
    """Whether classifier-free guidance changes anything: a class is asked for and w > 0."""
    return conditional and weight > 0


def model_rows(n: int, weight: float, conditional: bool) -> int:
    """Rows the model computes a call for n sprites: 2n when guiding (ε̂(c) and ε̂(∅) in one call), else n."""
    return 2 * n if guides(weight, conditional) else n


class Guided:
    """A Denoiser (ddpm/denoiser.py) returning the guided noise estimate

    ε̃ = (1 + w)·ε̂(x_t, t, c) − w·ε̂(x_t, t, ∅)   (Ho & Salimans 2022, eq. 6),

    where ∅ is the all-zero context that context dropout trained as "no class". `guide` wraps a model
    in it only where it changes something: a class asked for, and w > 0.
    """

    def __init__(self, model: Denoiser, weight: float) -> None:
        if not weight >= 0:
            raise ValueError(f"guidance weight must be ≥ 0, got {weight!r}")
        self.model = model
        self.weight = float(weight)
        self.n_cfeat = model.n_cfeat

    def __call__(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        # One call on [x, x] with [c, ∅]: the same cost as two, half the Python overhead (model_rows counts it).
        both = self.model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([c, torch.zeros_like(c)]))
        cond, uncond = both.chunk(2)
        return cond + self.weight * (cond - uncond)


def guide(model: Denoiser, weight: float, context: Tensor | None) -> Denoiser:
    """The denoiser to sample `context` with: `model` guided by w (Guided), or `model` itself without a class or at w = 0."""
    guided = Guided(model, weight)  # checks w
    return guided if guides(weight, context is not None) else model


# ω and the steps t (on the course's 1 … 500) where a weak net beside the weights guides; the main net alone elsewhere
# (Kynkäänniemi et al. 2024: guidance pays in the middle of the noise levels). The sweep's best precision and coverage
# whose z = 0 arm still collapses, by the count of repeats, at 40 % of the weak net's calls (weights/README.md,
# "Autoguidance on an interval of t"). Guided at every t or at higher t, that arm collapses less.
DEFAULT_AUTOGUIDANCE = 3.0
DEFAULT_INTERVAL = (100, 300)


class AutoGuided:
    """A Denoiser guided by a bad version of itself (Karras et al. 2024, "Guiding a diffusion model with a bad
    version of itself", eq. 2):

    ε̃ = ε̂_weak(x_t, t, c) + ω·(ε̂_main(x_t, t, c) − ε̂_weak(x_t, t, c))   where lo ≤ t ≤ hi, else ε̂_main,

    where the weak net is smaller and shorter-trained. ω = 1 is the main net alone; ω > 1 pushes away from the
    weak net's errors. Guiding only on an interval of t (Kynkäänniemi et al. 2024, "Applying guidance in a limited
    interval") saves the weak net's calls outside it. It needs no class, and with one it goes under classifier-free
    guidance: guide(autoguide(main, weak, ω), w, c) guides each of ε̂(c) and ε̂(∅) by the weak net, then by the class.
    """

    def __init__(self, main: Denoiser, weak: Denoiser, strength: float,
                 interval: tuple[int, int] = DEFAULT_INTERVAL) -> None:
        if not strength >= 1:
            raise ValueError(f"autoguidance strength ω must be ≥ 1, got {strength!r}")
        if weak.n_cfeat != main.n_cfeat:
            raise ValueError(f"the weak net's context has {weak.n_cfeat} classes, the main net's {main.n_cfeat}")
        lo, hi = interval
        if not 1 <= lo <= hi:
            raise ValueError(f"the autoguidance interval must be 1 ≤ lo ≤ hi, got {interval!r}")
        self.main, self.weak, self.strength, self.interval = main, weak, float(strength), (int(lo), int(hi))
        self.n_cfeat = main.n_cfeat

    def __call__(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        eps = self.main(x, t, c)
        lo, hi = self.interval
        inside = (t >= lo) & (t <= hi)
        if not inside.any():
            return eps
        if inside.all():  # the usual case: the rows of a call share their t
            weak = self.weak(x, t, c)
            return weak + self.strength * (eps - weak)
        rows = inside.nonzero().squeeze(1)  # rows of runs at other steps, batched together by the demo
        weak = self.weak(x[rows], t[rows], c[rows])
        return eps.index_copy(0, rows, weak + self.strength * (eps[rows] - weak))


@dataclass(frozen=True)
class Autoguidance:
    """The autoguidance a run gets, where it is on: ω and the steps t it guides. Hashable: runs that share it share
    a denoiser, and so the demo's batched passes."""

    strength: float
    interval: tuple[int, int] = DEFAULT_INTERVAL

    def guides(self, t: int) -> bool:
        """Whether the weak net is called at step t."""
        return self.interval[0] <= t <= self.interval[1]


def autoguidance(strength: float, weak: bool, interval: tuple[int, int] = DEFAULT_INTERVAL) -> Autoguidance | None:
    """Whether a run is autoguided, in one place for the CLI, the demo, the page's plan and its sampler: with a weak
    net (`weak`) and ω > 1, ω on `interval`; else None, the main net alone."""
    if not strength >= 1:
        raise ValueError(f"autoguidance strength ω must be ≥ 1, got {strength!r}")
    return Autoguidance(float(strength), interval) if weak and strength != 1 else None


def autoguide(main: Denoiser, weak: Denoiser | None, strength: float,
              interval: tuple[int, int] = DEFAULT_INTERVAL) -> Denoiser:
    """The denoiser to sample with: `main` guided by `weak` at ω on `interval` (AutoGuided) where `autoguidance` says
    so, else `main` itself."""
    spec = autoguidance(strength, weak is not None, interval)
    return main if spec is None else AutoGuided(main, weak, spec.strength, spec.interval)
