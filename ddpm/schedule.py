"""The noise schedule of the course (lesson 1), after Ho et al. (2020)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor


@dataclass(frozen=True)
class Schedule:
    """Linear-β DDPM schedule under the course's names, indexed by step i = 0 … steps.

    b_t  = β_t, the variance added at step t (linear from beta1 to beta2).
    a_t  = α_t = 1 − β_t.
    ab_t = ᾱ_t = Π_{s≤t} α_s, with ᾱ_0 set to 1. As in the course, ᾱ_t for t ≥ 1
           includes the factor α_0 (the product runs from t = 0); this is the lesson's schedule.
    s1   = 1/√α_t, s2 = (1 − α_t)/√(1 − ᾱ_t), s3 = √β_t: the factors of Algorithm 2,
           x_{t−1} = s1·(x_t − s2·ε̂) + s3·z.
    t_model[i] is the timestep the U-Net is told at step i; it is i itself unless the
    schedule was respaced to fewer steps (`respace`), Nichol & Dhariwal (2021) §4.
    """

    T: int = 500
    beta1: float = 1e-4
    beta2: float = 0.02
    timesteps: tuple[int, ...] | None = None  # kept model timesteps, 0 first; None = all
    b_t: Tensor = field(init=False, repr=False, compare=False)
    a_t: Tensor = field(init=False, repr=False, compare=False)
    ab_t: Tensor = field(init=False, repr=False, compare=False)
    s1: Tensor = field(init=False, repr=False, compare=False)
    s2: Tensor = field(init=False, repr=False, compare=False)
    s3: Tensor = field(init=False, repr=False, compare=False)
    t_model: Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.T, int) and self.T >= 1):
            raise ValueError(f"T must be a positive integer, got {self.T!r}")
        if not 0 < self.beta1 <= self.beta2 < 1:
            raise ValueError(f"need 0 < beta1 <= beta2 < 1, got {self.beta1}, {self.beta2}")
        # The course's construction, in float32 as in its notebook.
        b_t = (self.beta2 - self.beta1) * torch.linspace(0, 1, self.T + 1) + self.beta1
        a_t = 1 - b_t
        ab_t = torch.cumsum(a_t.log(), dim=0).exp()
        ab_t[0] = 1
        t_model = torch.arange(self.T + 1)
        if self.timesteps is not None:
            t_model = self._check_timesteps()
            # Respacing keeps ᾱ at the kept timesteps and derives the step's α from the
            # ratio of neighbours: α'_i = ᾱ_{τ_i}/ᾱ_{τ_{i−1}} (Nichol & Dhariwal 2021, eq. 19).
            ab_t = ab_t[t_model]
            a_t = torch.cat([a_t[:1], ab_t[1:] / ab_t[:-1]])
            b_t = 1 - a_t
        set_ = object.__setattr__  # frozen dataclass: fields are derived once, here
        set_(self, "b_t", b_t)
        set_(self, "a_t", a_t)
        set_(self, "ab_t", ab_t)
        set_(self, "s1", 1 / a_t.sqrt())
        set_(self, "s2", (1 - a_t) / (1 - ab_t).sqrt())  # inf at t = 0, never used there
        set_(self, "s3", b_t.sqrt())
        set_(self, "t_model", t_model)

    def _check_timesteps(self) -> Tensor:
        ts = torch.tensor(self.timesteps, dtype=torch.long)
        if ts.ndim != 1 or len(ts) < 2 or ts[0] != 0 or not bool((ts[1:] > ts[:-1]).all()) or ts[-1] > self.T:
            raise ValueError(f"timesteps must rise strictly from 0 to at most T={self.T}")
        return ts

    @property
    def steps(self) -> int:
        """Number of denoising steps this schedule walks (T unless respaced)."""
        return len(self.b_t) - 1

    def respace(self, steps: int) -> "Schedule":
        """The same process walked in `steps` evenly spaced steps, ending at t = T."""
        if not (isinstance(steps, int) and 1 <= steps <= self.T):
            raise ValueError(f"steps must be an integer from 1 to {self.T}, got {steps!r}")
        if steps == self.T:
            return replace(self, timesteps=None)
        kept = torch.linspace(0, self.T, steps + 1).round().long().tolist()
        return replace(self, timesteps=tuple(kept))

    def to(self, device: torch.device | str) -> "Schedule":
        """A copy whose tensors live on `device`."""
        new = replace(self)
        for name in ("b_t", "a_t", "ab_t", "s1", "s2", "s3", "t_model"):
            object.__setattr__(new, name, getattr(self, name).to(device))
        return new
