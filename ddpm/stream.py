"""The demo's run: check a request, run the sampler, and hand out frames at a pace a
browser can show. Pure Python and numpy, so it can be tested without a web server."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from .data import CLASSES, to_uint8
from .guidance import DEFAULT_GUIDANCE, MIXED, Guided, class_context
from .images import make_grid, upscale, write_animation, write_png
from .sampler import Step, sample_ddim, sample_ddpm, sample_side_by_side, seeded_noise
from .schedule import Schedule

MAX_SPRITES = 64
MAX_SEED = 2**31 - 1
MAX_GUIDANCE = 10.0
VIEWS = ("x_t", "predicted noise ε̂", "predicted x̂0")
ANY_CLASS = "any"
# One long-lived thread does all of the server's torch work: its thread pools and the allocator's
# arenas are made once, not per run (a thread per run let the server's memory creep up by about
# 1 MB a run). Sampling in it ran 1.5× slower once any other live thread had done torch work, even
# building a Schedule (that thread keeps an OpenMP team, and the two teams oversubscribe 2 cores):
# so the server loads the model and draws the schedule here too (on_sampler_thread), and the
# request checks below build no tensors.
# Setting the thread count inside that thread gives it its own full OpenMP team (measured ~15 % faster).
_SAMPLER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ddpm-sampler",
                              initializer=lambda: torch.set_num_threads(torch.get_num_threads()))
T = TypeVar("T")


def on_sampler_thread(fn: Callable[[], T]) -> T:
    """Run fn (loading the model, say) on the thread that samples, and return its result."""
    return _SAMPLER.submit(fn).result()


@dataclass(frozen=True)
class Request:
    """One checked run: sampler, steps, seed, sprites, class and the extra-noise scale λ."""

    ddim: bool
    steps: int
    seed: int
    n: int
    class_name: str | None  # None, MIXED or one of CLASSES
    noise_scale: float  # λ for the main arm; 0 when "add noise back" is off
    side_by_side: bool  # also run the z = 0 arm from the same x_T (DDPM only)
    guidance: float  # classifier-free guidance weight w, used when a class is chosen


def _int_in(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be from {lo} to {hi}, got {int(value)}")
    return int(value)


def _number_in(name: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:  # NaN fails too
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def parse_request(sampler: str, steps: object, seed: object, n: object, class_name: str | None,
                  add_noise: object, noise_scale: object, side_by_side: object, guidance: object = DEFAULT_GUIDANCE) -> Request:
    """Check raw inputs (from the UI or the API) and return a Request, or raise ValueError saying what is wrong."""
    if sampler not in ("DDPM", "DDIM"):
        raise ValueError(f"sampler must be 'DDPM' or 'DDIM', got {sampler!r}")
    ddim = sampler == "DDIM"
    steps = _int_in("steps", steps, 1, Schedule.T)  # the default T, without building tensors on this thread
    seed = _int_in("seed", seed, 0, MAX_SEED)
    n = _int_in("number of sprites", n, 1, MAX_SPRITES)
    if class_name in (None, "", ANY_CLASS):
        class_name = None
    elif class_name not in (MIXED, *CLASSES):
        raise ValueError(f"class must be one of {', '.join((ANY_CLASS, MIXED, *CLASSES))}, got {class_name!r}")
    for name, flag in (("add noise back", add_noise), ("side by side", side_by_side)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be true or false, got {flag!r}")
    noise_scale = _number_in("noise scale λ", noise_scale, 0, 2)
    guidance = _number_in("class guidance w", guidance, 0, MAX_GUIDANCE)
    return Request(ddim, steps, seed, n, class_name, noise_scale if add_noise else 0.0, bool(side_by_side) and not ddim, guidance)


@dataclass(frozen=True)
class Frame:
    """What the browser shows after `done` of `total` steps: per arm, x_t, ε̂ and x̂0 as uint8 sprites."""

    t: int  # the timestep of x_t shown (T before the first step, 0 at the end)
    done: int
    total: int
    elapsed: float  # seconds since the run started
    arms: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]  # per arm: (x_t, ε̂, x̂0), each (n, 16, 16, 3)

    @property
    def status(self) -> str:
        """t, speed and time left, for the status line."""
        if self.done == 0:
            return f"t = {self.t} · pure noise x_T · starting"
        rate = self.done / self.elapsed if self.elapsed > 0 else float("inf")
        tail = "done" if self.done == self.total else f"{(self.total - self.done) / rate:.1f} s left"
        return f"t = {self.t} · step {self.done}/{self.total} · {rate:.0f} steps/s · {tail}"


def _views(x: torch.Tensor, eps: torch.Tensor, x0: torch.Tensor, n: int, arms: int) -> tuple:
    # ε̂ is roughly N(0, 1): halve it so that ±2σ fills the displayed range.
    x, eps, x0 = to_uint8(x), to_uint8(eps * 0.5), to_uint8(x0)
    return tuple((x[i * n:(i + 1) * n], eps[i * n:(i + 1) * n], x0[i * n:(i + 1) * n]) for i in range(arms))


def run(model: Callable, req: Request, *, fps: float = 25.0, clock: Callable[[], float] = time.perf_counter) -> Iterator[Frame]:
    """Sample for `req` in a worker thread; yield the newest frame whenever the caller is ready.

    The sampler never waits for a slow consumer (a browser, a network): frames the consumer
    had no time for are skipped, the first (x_T) and the last are always delivered. Closing
    this generator (Stop, a closed tab) stops the sampler within one step.
    """
    cond = threading.Condition()
    slot: list[Frame] = []
    state: dict = {"finished": False, "error": None}
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames(model, req, fps=fps, clock=clock, stop=stop):
                with cond:
                    # Keep the first frame (x_T) if it was not taken yet; otherwise only the newest.
                    if not (slot and slot[0].done == 0):
                        slot[:] = [frame]
                    else:
                        slot[1:] = [frame]
                    cond.notify()
        except BaseException as e:  # handed to the consumer's thread below
            state["error"] = e
        finally:
            with cond:
                state["finished"] = True
                cond.notify()

    worker = _SAMPLER.submit(produce)
    try:
        while True:
            with cond:
                cond.wait_for(lambda: slot or state["finished"])
                frame = slot.pop(0) if slot else None
            if frame is None:
                break
            yield frame
        if state["error"] is not None:
            raise state["error"]
    finally:
        stop.set()
        worker.result()


def frames(model: Callable, req: Request, *, fps: float = 25.0, clock: Callable[[], float] = time.perf_counter,
           stop: threading.Event | None = None) -> Iterator[Frame]:
    """Sample for `req` in this thread: the first frame (x_T), at most `fps` frames a second, and the last."""
    x_T, gens = seeded_noise(req.seed, req.n)
    arms = 2 if req.side_by_side else 1
    c = class_context(req.class_name, req.n)
    model = Guided(model, req.guidance)  # only acts with a class
    sched = Schedule().respace(req.steps)  # the timesteps walked, for DDPM and DDIM alike
    if req.ddim:
        steps: Iterator[Step] = sample_ddim(model, Schedule(), x_T, steps=req.steps, context=c)
    elif req.side_by_side:
        steps = sample_side_by_side(model, sched, x_T, gens, noise_scale=req.noise_scale, context=c)
    else:
        steps = sample_ddpm(model, sched, x_T, noise_scale=req.noise_scale, generator=gens, context=c)
    start = clock()
    blank = torch.zeros((arms * req.n, 3, 16, 16))
    yield Frame(int(sched.t_model[-1]), 0, req.steps, 0.0, _views(x_T.repeat(arms, 1, 1, 1), blank, blank, req.n, arms))
    last_shown = start
    for done, step in enumerate(steps, start=1):
        if stop is not None and stop.is_set():
            return
        now = clock()
        if done == req.steps or now - last_shown >= 1 / fps:
            last_shown = now
            # step.x is the sample at the next kept timestep; ε̂ and x̂0 were predicted at step.t.
            yield Frame(int(sched.t_model[req.steps - done]), done, req.steps, now - start,
                        _views(step.x, step.eps, step.x0, req.n, arms))


def frame_image(frame: Frame, arm: int, view: int, sprite: int | None = None) -> np.ndarray:
    """One arm's chosen view as a small uint8 image: a grid of all sprites, or one sprite."""
    images = frame.arms[arm][view]
    if sprite is not None:
        return images[min(sprite, len(images) - 1)]
    return make_grid(images, pad=1)


def save_run(frames: Sequence[Frame], view: int, folder: str | Path, scale: int = 4, max_frames: int = 100) -> list[Path]:
    """The run as GIF and MP4 (arms side by side, at most `max_frames` frames) and the final grid as PNG."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def both(frame: Frame) -> np.ndarray:
        parts = [frame_image(frame, arm, view) for arm in range(len(frame.arms))]
        gap = np.full((parts[0].shape[0], 4, 3), 255, np.uint8)
        return upscale(np.concatenate([p for part in parts for p in (part, gap)][:-1], axis=1), scale)

    # Evenly thinned, always ending on the final frame: a download of a few MB, not tens.
    keep = sorted({round(i * (len(frames) - 1) / max(1, max_frames - 1)) for i in range(min(max_frames, len(frames)))})
    images = [both(frames[i]) for i in keep]
    paths = [folder / "denoising.gif", folder / "denoising.mp4", folder / "final.png"]
    write_animation(images, paths[0])
    write_animation(images, paths[1])
    write_png(both(frames[-1]), paths[2])
    return paths
