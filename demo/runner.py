"""The demo's run: the sampling thread, the model it serves, and frames handed out at a pace a browser can show.

Pure Python, numpy and torch, so it can be tested without a web server."""
from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from ddpm import Guided, Schedule, class_context, fast_model, read_classes, sampler, seeded_noise
from ddpm.guidance import mix_context
from ddpm.sampler import Step
from ddpm.checkpoint import DEFAULT_WEIGHTS
from ddpm.data import to_uint8
from ddpm.engine import Engine

from .batcher import Batcher
from .i18n import EN, line
from .request import MIX, Request
from .shared import Run, Runs

# One thread does all of the server's heavy torch work (the batcher's): its thread pools and the
# allocator's arenas are made once, not per run, and its OpenMP team is the only one that spins
# (docs/performance.md). The model is loaded and the schedule drawn there too (on_sampler_thread).
# Past MAX_BATCH rows a step, new runs wait in line, the most watched first. On the OpenVINO engine a sprite
# costs little less at 128 rows than at 32 (0.31 against 0.35 ms, `python scripts/engines.py`), so a bigger
# batch adds little throughput and slows every run in it: two default runs (64 rows) at a time finish a
# class's shared run at about twice a solo run's time, the others one after another (docs/performance.md).
MAX_BATCH = int(os.environ.get("DDPM_MAX_BATCH", 64))
# Runs watched at once (app.py's concurrency); as many more may wait in Gradio's queue, then it refuses.
MAX_VIEWERS = int(os.environ.get("DDPM_MAX_VIEWERS", 64))
# Frames a second sent to the browser, at most. Every frame costs the server and the browser CPU that the
# sampler's two threads want (docs/performance.md). 4 a second shows a 500-step run as about 35 frames,
# more than the course's animation (a frame every 20 steps: 26).
FPS = float(os.environ.get("DDPM_FPS", 4))
BATCHER = Batcher(max_sprites=MAX_BATCH)
RUNS = Runs(BATCHER)
atexit.register(RUNS.close)  # Ctrl+C or a stopped Space: runs in flight stop at their next step
T = TypeVar("T")


def on_sampler_thread(fn: Callable[[], T]) -> T:
    """Run fn (loading the model, say) on the thread that samples, between steps, and return its result."""
    return BATCHER.call(fn)


@dataclass(frozen=True)
class DemoModel:
    """The served model: its engine (called like the U-Net) and its class names."""

    fast: Engine
    classes: tuple[str, ...]
    weights: Path


def load_demo_model(weights: str | Path | None = None, openvino: bool | None = None) -> DemoModel:
    """Load the weights (DDPM_WEIGHTS, else the demo's default) on the sampling thread, on the fastest engine.

    DDPM_OPENVINO=0 keeps eager torch; errors are ddpm.CheckpointError."""
    weights = Path(weights or os.environ.get("DDPM_WEIGHTS") or DEFAULT_WEIGHTS)
    if openvino is None:
        openvino = os.environ.get("DDPM_OPENVINO", "1") != "0"
    fast = on_sampler_thread(lambda: fast_model(weights, "cpu", openvino=openvino))
    return DemoModel(fast, read_classes(weights), weights)


@dataclass(frozen=True, eq=False)  # equal only to itself: hashable, so its pictures can be cached (demo/export.py)
class Frame:
    """What the browser shows after `done` of `total` steps: per arm, x_t, ε̂ and x̂0 as uint8 sprites."""

    t: int  # the timestep of x_t shown (T before the first step, 0 at the end)
    done: int
    total: int
    elapsed: float  # seconds since the run started
    arms: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # per arm: (x_t, ε̂, x̂0), each (n, 16, 16, 3)
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


def _views(x: torch.Tensor, eps: torch.Tensor, x0: torch.Tensor, n: int, arms: int) -> tuple:
    # ε̂ is roughly N(0, 1): halve it so that ±2σ fills the displayed range.
    x, eps, x0 = to_uint8(x), to_uint8(eps * 0.5), to_uint8(x0)
    return tuple((x[i * n:(i + 1) * n], eps[i * n:(i + 1) * n], x0[i * n:(i + 1) * n]) for i in range(arms))


def frames(model: Callable, req: Request, *, fps: float = 25.0, clock: Callable[[], float] = time.perf_counter,
           stop: threading.Event | None = None) -> Iterator[Frame]:
    """Sample for `req` in this thread: the first frame (x_T), at most `fps` frames a second, and the last."""
    x_T, gens = seeded_noise(req.seed, req.n)
    arms = 2 if req.side_by_side else 1
    c = mix_context(dict(req.mix), req.n, req.classes) if req.class_name == MIX else class_context(req.class_name, req.n, req.classes)
    steps = sampler(req.kind, Guided(model, req.guidance), x_T, steps=req.steps, noise_scale=req.noise_scale,
                    generator=gens, context=c, side_by_side=req.side_by_side)
    timesteps = Schedule().respace(req.steps).t_model  # x_t's timestep after each step, for DDPM and DDIM alike
    start = clock()
    blank = torch.zeros((arms * req.n, 3, 16, 16))
    yield Frame(int(timesteps[-1]), 0, req.steps, 0.0, _views(x_T.repeat(arms, 1, 1, 1), blank, blank, req.n, arms))
    last_shown = start
    for done, step in enumerate(steps, start=1):
        if stop is not None and stop.is_set():
            return
        now = clock()
        if done == req.steps or now - last_shown >= 1 / fps:
            last_shown = now
            # step.x is the sample at the next kept timestep; ε̂ and x̂0 were predicted at step.t.
            yield Frame(int(timesteps[req.steps - done]), done, req.steps, now - start, _views(step.x, step.eps, step.x0, req.n, arms))


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


def race_frames(model: Callable, seed: int, n: int, ddpm_steps: int, ddim_steps: int, *, fps: float = 25.0,
                clock: Callable[[], float] = time.perf_counter, stop: threading.Event | None = None) -> Iterator[RaceFrame]:
    """DDPM and DDIM from the same x_T, a step of each in turn on this thread; each arm is timed over its own steps."""
    x_T, gens = seeded_noise(seed, n)
    walks = [sampler("ddpm", model, x_T, steps=ddpm_steps, generator=gens), sampler("ddim", model, x_T, steps=ddim_steps)]
    totals = (ddpm_steps, ddim_steps)
    blank = torch.zeros_like(x_T)
    start_views = _views(x_T, blank, blank, n, 1)[0]
    last: list[Step | None] = [None, None]  # each arm's newest step; turned into pictures only for frames shown
    done, seconds = [0, 0], [0.0, 0.0]
    timesteps = Schedule().respace(ddpm_steps).t_model  # x_t's timestep on the DDPM arm after each step
    yield RaceFrame(Schedule.T, 0, ddpm_steps, 0.0, (start_views, start_views), steps_done=(0, 0), totals=totals, seconds=(0.0, 0.0))
    start = last_shown = clock()
    while done != list(totals):
        finished = False
        for arm in (0, 1):
            if done[arm] == totals[arm]:
                continue
            if stop is not None and stop.is_set():
                return
            began = clock()
            last[arm] = next(walks[arm])
            seconds[arm] += clock() - began
            done[arm] += 1
            finished |= done[arm] == totals[arm]
        now = clock()
        if finished or now - last_shown >= 1 / fps:
            last_shown = now
            t = int(timesteps[ddpm_steps - done[0]])
            views = tuple(_views(st.x, st.eps, st.x0, n, 1)[0] if st is not None else start_views for st in last)
            yield RaceFrame(t, done[0], ddpm_steps, now - start, views, steps_done=tuple(done), totals=totals, seconds=tuple(seconds))


def rows(req: Request) -> int:
    """The most rows a step of `req` asks of the model: both arms, and twice for guidance."""
    guided = req.class_name is not None and req.guidance > 0
    return req.n * (2 if req.side_by_side else 1) * (2 if guided else 1)


def run(model: Callable, req: Request, *, fps: float = 25.0, clock: Callable[[], float] = time.perf_counter) -> Run:
    """The shared run for `req` (see demo/shared.py): iterate `.watch()` for frames, `.frames` for all made so far."""
    return RUNS.view(("denoise", model, req, fps), model, rows(req),
                     lambda lane, stop: frames(lane, req, fps=fps, clock=clock, stop=stop))


def race_run(model: Callable, seed: int, n: int, ddpm_steps: int, ddim_steps: int, *, fps: float = 25.0) -> Run:
    """The shared race of DDPM against DDIM (see race_frames)."""
    return RUNS.view(("race", model, seed, n, ddpm_steps, ddim_steps, fps), model, n,
                     lambda lane, stop: race_frames(lane, seed, n, ddpm_steps, ddim_steps, fps=fps, stop=stop))
