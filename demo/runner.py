"""The demo's run: the sampling generators, the model it serves, and the server's shared runs.

Pure Python, numpy and torch, so it can be tested without a web server. Importing it does no work: the
batcher's thread and the registry of runs are made on first use (`server()`)."""
from __future__ import annotations

import atexit
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch

from ddpm import Denoiser, Schedule, class_context, fast_model, guide, read_classes, sampler, seeded_noise
from ddpm.checkpoint import DEFAULT_WEIGHTS, weak_path
from ddpm.engine import Engine
from ddpm.guidance import AutoGuided, Autoguidance, autoguidance, mix_context, model_rows
from ddpm.sampler import Step

from .batcher import Batcher
from .frames import Frame, RaceFrame, views
from .request import Request, parse_request
from .settings import MIX
from .shared import Run, Runs

# Rows a step of all runs together, at most; past it new runs wait in line, the most watched first. A bigger
# batch adds little throughput on the chunked engine and slows every run in it (docs/performance.md, "Classroom").
MAX_BATCH = int(os.environ.get("DDPM_MAX_BATCH", 64))
# Runs watched at once (app.py's concurrency); as many more may wait in Gradio's queue, then it refuses.
MAX_VIEWERS = int(os.environ.get("DDPM_MAX_VIEWERS", 64))
# Frames a second sent to one browser, at most: every frame sent costs the server and the browser CPU that the
# sampler's threads want (docs/performance.md, "Earlier findings").
FPS = float(os.environ.get("DDPM_FPS", 4))
# A run keeps its frames by step, whatever the machine's speed: every step of the last TAIL, where the sprites
# form, and enough before them for about KEPT in all, so that scrubbing, slow motion and the GIF have them all.
TAIL = 50
KEPT = 100
T = TypeVar("T")
# The server's precision (DDPM_PRECISION): fp32 everywhere, bf16, or auto, bf16 where the CPU multiplies it natively.
# A browser run is compared with the server's in fp32 (docs/performance.md, "In the browser").
PRECISIONS = {"fp32": False, "bf16": True, "auto": None}


@functools.cache
def server() -> Runs:
    """The server's shared runs and their batcher, made on first use.

    One thread (the batcher's) does all of the server's heavy torch work, so its thread pools and arenas are made
    once and its OpenMP team is the only one that spins (docs/performance.md). Runs in flight stop at exit
    (Ctrl+C, a stopped Space)."""
    runs = Runs(Batcher(max_sprites=MAX_BATCH))
    atexit.register(runs.close)
    return runs


def on_sampler_thread(fn: Callable[[], T]) -> T:
    """Run fn (loading the model, say) on the thread that samples, between steps, and return its result."""
    return server().batcher.call(fn)


@dataclass(frozen=True)
class DemoModel:
    """The served model: its engine (a Denoiser), its class names, the weak net beside it for autoguidance, if any, and
    the denoisers made so far, by the autoguidance they give (ddpm.guidance.autoguidance; None: the net alone)."""

    fast: Engine
    classes: tuple[str, ...]
    weights: Path
    weak: Engine | None = None  # NAME.weak.safetensors beside the weights (ddpm.checkpoint.weak_path)
    denoisers: dict[Autoguidance | None, Denoiser] = field(default_factory=dict, compare=False, hash=False)

    def autoguidance(self, strength: float) -> Autoguidance | None:
        """The autoguidance a run at ω gets here: on where a weak net is served and ω > 1."""
        return autoguidance(strength, self.weak is not None)

    def denoiser(self, strength: float) -> Denoiser:
        """What a run at autoguidance ω samples with: one denoiser for each autoguidance, so that runs that share it
        share the batcher's passes (it batches by denoiser)."""
        spec = self.autoguidance(strength)
        if spec not in self.denoisers:
            self.denoisers[spec] = self.fast if spec is None else AutoGuided(self.fast, self.weak, spec.strength, spec.interval)
        return self.denoisers[spec]


def load_demo_model(weights: str | Path | None = None, openvino: bool | None = None) -> DemoModel:
    """Load the weights (DDPM_WEIGHTS, else the demo's default), and the weak net beside them if there, on the sampling
    thread, on the fastest engine.

    The page's default run is compiled for at once, so the first press waits for no compile. DDPM_OPENVINO=0 keeps
    eager torch; DDPM_PRECISION (PRECISIONS) chooses fp32 or bf16, else the engine picks what pays on this CPU.
    Errors are ddpm.CheckpointError, or ValueError for a precision it does not know."""
    weights = Path(weights or os.environ.get("DDPM_WEIGHTS") or DEFAULT_WEIGHTS)
    if openvino is None:
        openvino = os.environ.get("DDPM_OPENVINO", "1") != "0"
    precision = os.environ.get("DDPM_PRECISION", "auto")
    if precision not in PRECISIONS:
        raise ValueError(f"DDPM_PRECISION must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    bf16 = PRECISIONS[precision]
    default = parse_request()
    warm = (rows(default),)
    fast = on_sampler_thread(lambda: fast_model(weights, "cpu", bf16=bf16, openvino=openvino, warm=warm))
    weak_file = weak_path(weights)
    # The default run is autoguided (ddpm.guidance.DEFAULT_AUTOGUIDANCE): the weak net is compiled for it too.
    weak_warm = warm if autoguidance(default.autoguidance, True) else ()
    weak = (on_sampler_thread(lambda: fast_model(weak_file, "cpu", bf16=bf16, openvino=openvino, warm=weak_warm))
            if weak_file.is_file() else None)
    return DemoModel(fast, read_classes(weights), weights, weak)


def rows(req: Request) -> int:
    """The most rows a step of `req` asks of the model: its arms' sprites, as guidance counts them."""
    return model_rows(req.n * (2 if req.side_by_side else 1), req.guidance, req.class_name is not None)


def context(req: Request) -> torch.Tensor | None:
    """The (n, classes) context rows of `req`: its class, its mix, or None for no class."""
    if req.class_name == MIX:
        return mix_context(dict(req.mix), req.n, req.classes)
    return class_context(req.class_name, req.n, req.classes)


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
    c = context(req)
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


def join_run(denoiser: Denoiser, req: Request, *, ends_only: bool = False, clock: Callable[[], float] = time.perf_counter) -> Run:
    """The server's shared run for `req`, joined as one more viewer (demo/shared.py): `.watch()` for its frames."""
    return server().view(("denoise", denoiser, req, ends_only), denoiser, rows(req),
                         lambda lane, stop: denoise_frames(lane, req, ends_only=ends_only, clock=clock, stop=stop))


def join_race(denoiser: Denoiser, seed: int, n: int, ddpm_steps: int, ddim_steps: int, *, fps: float = 25.0) -> Run:
    """The server's shared race of DDPM against DDIM (race_frames), joined as one more viewer."""
    return server().view(("race", denoiser, seed, n, ddpm_steps, ddim_steps, fps), denoiser, n,
                         lambda lane, stop: race_frames(lane, seed, n, ddpm_steps, ddim_steps, fps=fps, stop=stop))
