"""The demo's frame producers: a run, or a race, sampled on the calling thread (the batcher's, in the server), each
kept step as a Frame of uint8 pictures. Pure Python, numpy and torch, so it can be tested without a web server."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import torch

from ddpm import Denoiser, Schedule, guide, sampler, seeded_noise
from ddpm.sampler import Step

from .frames import Frame, RaceFrame, views
from .request import Request

# A run keeps its frames by step, whatever the machine's speed: every step of the last TAIL, where the sprites
# form, and enough before them for about KEPT in all, so that scrubbing, slow motion and the GIF have them all.
TAIL = 50
KEPT = 100


def kept_steps(total: int, kept: int = KEPT, tail: int = TAIL) -> set[int]:
    """The steps done after which a run of `total` steps keeps a frame: every one of the last `tail`, and before them
    enough, evenly spread, for about `kept` in all; the last always."""
    head_steps = max(0, total - tail)
    head_frames = min(head_steps, max(0, kept - (total - head_steps)))
    head = {round(k * head_steps / head_frames) for k in range(1, head_frames + 1)} if head_frames else set()
    return head | set(range(head_steps + 1, total + 1))


def denoise_frames(denoiser: Denoiser, req: Request, *, ends_only: bool = False, clock: Callable[[], float] = time.perf_counter,
                   stop: threading.Event | None = None) -> Iterator[Frame]:
    """Sample for `req` in this thread: the first frame (x_T), then one after each of its kept_steps (the last alone with
    `ends_only`)."""
    x_T, noise = seeded_noise(req.seed, req.n)
    arms = 2 if req.side_by_side else 1
    c = req.context()
    walk = sampler(req.kind, guide(denoiser, req.guidance, c), x_T, steps=req.steps, noise_scale=req.noise_scale,
                   noise=noise, context=c, side_by_side=req.side_by_side)
    timesteps = Schedule().respace(req.steps).t_model  # x_t's timestep after each step, for DDPM and DDIM alike
    start = clock()
    blank = torch.zeros((arms * req.n, 3, 16, 16))
    yield Frame(int(timesteps[-1]), 0, req.steps, 0.0, views(x_T.repeat(arms, 1, 1, 1), blank, blank, arms))
    kept = {req.steps} if ends_only else kept_steps(req.steps)
    for done, step in enumerate(walk, start=1):
        if stop is not None and stop.is_set():
            return
        if done in kept:
            # step.x is the sample at the next kept timestep; ε̂ and x̂0 were predicted at step.t.
            yield Frame(int(timesteps[req.steps - done]), done, req.steps, clock() - start, views(step.x, step.eps, step.x0, arms))


def race_frames(denoiser: Denoiser, seed: int, n: int, ddpm_steps: int, ddim_steps: int, *, fps: float = 25.0,
                clock: Callable[[], float] = time.perf_counter, stop: threading.Event | None = None) -> Iterator[RaceFrame]:
    """DDPM and DDIM from the same x_T, a step of each in turn on this thread; each arm is timed over its own steps."""
    x_T, noise = seeded_noise(seed, n)
    walks = [sampler("ddpm", denoiser, x_T, steps=ddpm_steps, noise=noise), sampler("ddim", denoiser, x_T, steps=ddim_steps)]
    totals = (ddpm_steps, ddim_steps)
    blank = torch.zeros_like(x_T)
    start_views = views(x_T, blank, blank, 1)[0]
    last: list[Step | None] = [None, None]  # each arm's newest step; turned into pictures only for frames kept
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
            arms = tuple(views(st.x, st.eps, st.x0, 1)[0] if st is not None else start_views for st in last)
            yield RaceFrame(t, done[0], ddpm_steps, now - start, arms, steps_done=tuple(done), totals=totals, seconds=tuple(seconds))


