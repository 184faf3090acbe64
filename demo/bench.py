"""The demo's default run through its own run code, without the web server: `python -m ddpm bench`'s "demo run" case."""
from __future__ import annotations

from ddpm import Schedule
from ddpm.engine import Engine

from .export import render
from .request import parse_request
from .runner import FPS, Frame, run


def default_run(fast: Engine, seed: int, steps: int = Schedule.T) -> Frame:
    """The page's default run (DDPM, 500 steps, 16 + 16 side by side) as one viewer watches it: frames at FPS, each as PNGs.

    Give each call its own seed: a finished run is kept and replayed."""
    req = parse_request("DDPM", steps, seed, 16, None, True, 1.0, True)
    last = None
    for last in run(fast, req, fps=FPS).watch(gap=lambda: 1 / FPS):
        render(last, 0, None)
    return last
