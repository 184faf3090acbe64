"""The model the demo serves and the server's shared runs: its settings from the environment, the sampling thread's
singleton, loading the weights, and joining a run or a race (demo/shared.py) that the producers in demo/runner.py
compute.

Importing it does no work: the batcher's thread and the registry of runs are made on first use (`server()`)."""
from __future__ import annotations

import atexit
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch

from ddpm import Denoiser, fast_model, read_classes
from ddpm.checkpoint import DEFAULT_WEIGHTS, weak_path
from ddpm.engine import Engine
from ddpm.guidance import AutoGuided, Autoguidance, autoguidance

from .batcher import ALIGN, Batcher
from .request import Request, parse_request
from .runner import denoise_frames, race_frames
from .shared import Run, Runs

# Rows a step of all runs together, at most; past it new runs wait in line, the most watched first. A bigger
# batch adds little throughput on the chunked engine and slows every run in it (docs/performance.md, "Classroom").
MAX_BATCH = int(os.environ.get("DDPM_MAX_BATCH", 64))
# Runs watched at once (app.py's concurrency); as many more may wait in Gradio's queue, then it refuses.
MAX_VIEWERS = int(os.environ.get("DDPM_MAX_VIEWERS", 64))
# Frames a second sent to one browser, at most: every frame sent costs the server and the browser CPU that the
# sampler's threads want (docs/performance.md, "Earlier findings").
FPS = float(os.environ.get("DDPM_FPS", 4))
# The server's precision (DDPM_PRECISION): fp32 everywhere, bf16, or auto, bf16 where the CPU multiplies it natively.
# A browser run is compared with the server's in fp32 (docs/performance.md, "In the browser").
PRECISIONS = {"fp32": False, "bf16": True, "auto": None}
Result = TypeVar("Result")


@functools.cache
def server() -> Runs:
    """The server's shared runs and their batcher, made on first use.

    One thread (the batcher's) does all of the server's heavy torch work, so its thread pools and arenas are made
    once and its OpenMP team is the only one that spins (docs/performance.md). Runs in flight stop at exit
    (Ctrl+C, a stopped Space)."""
    runs = Runs(Batcher(max_sprites=MAX_BATCH))
    atexit.register(runs.close)
    return runs


def on_sampler_thread(fn: Callable[[], Result]) -> Result:
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
    warm = (default.rows,)
    fast = on_sampler_thread(lambda: fast_model(weights, "cpu", bf16=bf16, openvino=openvino, warm=warm))
    weak_file = weak_path(weights)
    # The default run is autoguided (ddpm.guidance.DEFAULT_AUTOGUIDANCE): the weak net is compiled for it too.
    weak_warm = warm if autoguidance(default.autoguidance, True) else ()
    weak = (on_sampler_thread(lambda: fast_model(weak_file, "cpu", bf16=bf16, openvino=openvino, warm=weak_warm))
            if weak_file.is_file() else None)
    served = DemoModel(fast, read_classes(weights), weights, weak)
    server().batcher.seed(on_sampler_thread(lambda: _row_seconds(served.denoiser(default.autoguidance), default.rows)))
    return served


def _row_seconds(denoiser: Denoiser, rows: int, calls: int = 3) -> float:
    """Seconds a row-step of `denoiser` at `rows` rows, the engine alone (warm; a guided step at the middle t)."""
    x, t, c = torch.zeros(rows, 3, 16, 16), torch.full((rows,), 250), torch.zeros(rows, denoiser.n_cfeat)
    with torch.inference_mode():
        denoiser(x, t, c)
        start = time.perf_counter()
        for _ in range(calls):
            denoiser(x, t, c)
    return (time.perf_counter() - start) / calls / rows


def join_run(denoiser: Denoiser, req: Request, *, ends_only: bool = False, clock: Callable[[], float] = time.perf_counter) -> Run:
    """The server's shared run for `req`, joined as one more viewer (demo/shared.py): `.watch()` for its frames."""
    return server().view(("denoise", denoiser, req, ends_only), denoiser, req.rows,
                         lambda lane, stop: denoise_frames(lane, req, ends_only=ends_only, clock=clock, stop=stop), req.steps)


def join_race(denoiser: Denoiser, seed: int, n: int, ddpm_steps: int, ddim_steps: int, *, fps: float = 25.0) -> Run:
    """The server's shared race of DDPM against DDIM (race_frames), joined as one more viewer."""
    return server().view(("race", denoiser, seed, n, ddpm_steps, ddim_steps, fps), denoiser, n,
                         lambda lane, stop: race_frames(lane, seed, n, ddpm_steps, ddim_steps, fps=fps, stop=stop),
                         ddpm_steps + ddim_steps)


def server_estimate(req: Request) -> dict:
    """The server's estimate for `req` (issue 34): seconds to finish it behind the work already running or waiting, at
    the measured cost of a row-step, and the runs ahead of it. Seconds None before anything was measured."""
    batcher = server().batcher
    runs, row_steps = batcher.ahead()
    rows = req.rows + (-req.rows) % ALIGN
    cost = batcher.row_seconds
    return {"seconds": None if cost is None else cost * (row_steps + rows * req.steps), "ahead": runs}
