"""`python -m demo.bench`: `python -m ddpm bench` (same options) with one more case, the demo's default run through
its own run code, frames and pictures included, without the web server. The library knows nothing of the demo."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ddpm import Denoiser, Schedule, fast_model
from ddpm.checkpoint import weak_path
from ddpm.engine import Engine

from .export import render
from .frames import Frame
from .request import parse_request
from .settings import DEFAULTS
from .serving import FPS, DemoModel, join_run


def default_run(denoiser: Denoiser, seed: int, steps: int = Schedule.T) -> Frame:
    """The page's default run (DDPM, 500 steps, 16 + 16 side by side) as one viewer watches it: frames at FPS, each as PNGs.

    `denoiser`: what the page samples with (DemoModel.denoiser). Give each call its own seed: a finished run is kept and
    replayed."""
    req = parse_request(steps=steps, seed=seed)
    last = None
    for last in join_run(denoiser, req).watch(gap=lambda: 1 / FPS):
        render(last, 0, None)
    return last


def case(fast: Engine, weights: Path, steps: int) -> Callable[[int], Frame]:
    """The bench's "demo run" case: seed → the default run's last frame, on `fast` autoguided as the page's default is, by
    the weak net beside `weights` where there is one."""
    weak = weak_path(weights)
    served = DemoModel(fast, (), weights, fast_model(weak, "cpu") if weak.is_file() else None)
    return lambda seed: default_run(served.denoiser(DEFAULTS["autoguidance"]), seed, steps)


def main(argv: list[str] | None = None) -> None:
    """`python -m ddpm bench` with the demo's case."""
    from ddpm.cli import build_parser, cmd_bench

    cmd_bench(build_parser().parse_args(["bench", *(sys.argv[1:] if argv is None else argv)]), demo_case=case)


if __name__ == "__main__":
    main()
