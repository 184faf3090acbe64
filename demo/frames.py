"""What a viewer is shown: a run's frames (x_t, ε̂ and x̂0 per arm as uint8 sprites) and their status lines."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ddpm.data import to_uint8

from .i18n import EN, line

Views = tuple[np.ndarray, np.ndarray, np.ndarray]  # one arm's (x_t, ε̂, x̂0), each (n, 16, 16, 3) uint8


@dataclass(frozen=True, eq=False)  # equal only to itself: hashable, so its pictures can be cached (demo/export.py)
class Frame:
    """What the browser shows after `done` of `total` steps: per arm, x_t, ε̂ and x̂0 as uint8 sprites."""

    t: int  # the timestep of x_t shown (T before the first step, 0 at the end)
    done: int
    total: int
    elapsed: float  # seconds since the run started
    arms: tuple[Views, ...]
    queued: int = 0  # > 0: the run waits for room in the batcher, this place in line

    @property
    def status(self) -> str:
        """t, speed and time left, for the status line."""
        return self.status_in(EN)

    def status_in(self, lang: str) -> str:
        """The status line in a language of demo/i18n.py."""
        if self.queued:
            return line(lang, "queued", t=self.t, place=self.queued)
        if self.done == 0:
            return line(lang, "start", t=self.t)
        rate = self.done / self.elapsed if self.elapsed > 0 else float("inf")
        tail = line(lang, "done") if self.done == self.total else line(lang, "left", seconds=(self.total - self.done) / rate)
        return line(lang, "step", t=self.t, done=self.done, total=self.total, rate=rate, tail=tail)


@dataclass(frozen=True, eq=False)
class RaceFrame(Frame):
    """A frame of DDPM against DDIM: arms (DDPM, DDIM), each with its own steps done and seconds of its own steps."""

    steps_done: tuple[int, int] = (0, 0)
    totals: tuple[int, int] = (0, 0)
    seconds: tuple[float, float] = (0.0, 0.0)

    def status_in(self, lang: str) -> str:
        """Each sampler's progress and time."""
        arms = [line(lang, "race_arm", name=name, done=d, total=n, seconds=s)
                for name, d, n, s in zip(("DDPM", "DDIM"), self.steps_done, self.totals, self.seconds)]
        return " · ".join(arms + ([line(lang, "race_done")] if self.steps_done == self.totals else []))


def views(x: torch.Tensor, eps: torch.Tensor, x0: torch.Tensor, arms: int) -> tuple[Views, ...]:
    """A batch of `arms` equal halves as each arm's (x_t, ε̂, x̂0) in uint8."""
    n = len(x) // arms
    # ε̂ is roughly N(0, 1): halve it so that ±2σ fills the displayed range.
    x, eps, x0 = to_uint8(x), to_uint8(eps * 0.5), to_uint8(x0)
    return tuple((x[i * n:(i + 1) * n], eps[i * n:(i + 1) * n], x0[i * n:(i + 1) * n]) for i in range(arms))
