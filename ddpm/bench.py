"""`python -m ddpm bench`: the course's sampling loop against the project's fast path."""
from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from .course import CourseContextUnet, notebook_sample
from .data import to_uint8
from .device import cpu_has_bf16
from .engine import Engine, TorchEngine
from .noise import SpriteNoise, seeded_noise
from .sampler import denoise_add_noise, sample, sampler
from .schedule import Schedule
from .unet import ContextUnet


@dataclass(frozen=True)
class Case:
    """One benchmark case: a sampler, a batch, and the steps it walks."""

    name: str
    batch: int
    ddim_steps: int | None = None  # None: DDPM over every step of the schedule
    side_by_side: bool = False  # batch = n with noise + the same n without


def reference_loop(model: ContextUnet, schedule: Schedule, x: torch.Tensor, noise: SpriteNoise | None) -> torch.Tensor:
    """The course's loop: eager fp32 model and denoise_add_noise, t = T … 1; z from the sprites' noise streams, or 0 without."""
    c = torch.zeros(len(x), model.n_cfeat)  # unconditional: the all-zero context
    with torch.no_grad():
        for i in range(schedule.T, 0, -1):
            t = torch.full((x.shape[0],), i)
            z = noise.draw() if i > 1 and noise is not None else 0
            eps = model(x, t, c)
            x = denoise_add_noise(schedule, x, i, eps, z)
    return x


def reference_ddim(model: ContextUnet, schedule: Schedule, x: torch.Tensor, steps: int) -> torch.Tensor:
    """The course's DDIM loop (lesson 4), eager fp32."""
    step = schedule.T // steps
    c = torch.zeros(len(x), model.n_cfeat)
    with torch.no_grad():
        for i in range(schedule.T, 0, -step):
            eps = model(x, torch.full((x.shape[0],), i), c)
            ab, ab_prev = schedule.ab_t[i], schedule.ab_t[i - step]
            x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
            x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
    return x


def fast_run(fast: Callable, schedule: Schedule, case: Case) -> torch.Tensor:
    """The project's sampler with the fast model, as the demo runs it."""
    n = case.batch // 2 if case.side_by_side else case.batch
    x_T, noise = seeded_noise(0, n)
    kind = "ddim" if case.ddim_steps else "ddpm"
    return sample(sampler(kind, fast, x_T, steps=case.ddim_steps, noise=noise, side_by_side=case.side_by_side, schedule=schedule))


def seconds(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall seconds of `repeats` calls, after one untimed warm-up call."""
    fn()
    return [seconds(fn) for _ in range(repeats)]


def matmul_peak(dtype: torch.dtype, n: int = 1024, reps: int = 10) -> float:
    """GFLOP/s of an n×n×n matrix product in `dtype`, measured here and now."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    best = min(timed(lambda: [a @ b for _ in range(reps)], 3))
    return 2 * n**3 * reps / best / 1e9


def forward_flops(model: ContextUnet, batch: int) -> int:
    """FLOPs of one forward pass at `batch` (convolutions and matrix products)."""
    x, t, c = torch.zeros(batch, 3, 16, 16), torch.ones(batch, dtype=torch.long), torch.zeros(batch, model.n_cfeat)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, t, c)
    return counter.get_total_flops()


def course_notebook(schedule: Schedule, n: int, repeats: int, log=print, beside: dict[str, Callable[[], object]] | None = None) -> dict:
    """The anchor: the course notebook's net and loop, side by side as the notebook would run it (two loops of n).

    With `beside`, each timed notebook run is followed by one timed call of each (their warm-ups were their own cases),
    and the pairs are kept: the machine's speed drifts within minutes, so a ratio of two cases timed apart is noisy."""
    torch.manual_seed(0)
    net = CourseContextUnet().eval()
    beside = beside or {}

    def both() -> None:
        x_T = seeded_noise(0, n)[0]
        notebook_sample(net, schedule, x_T)
        notebook_sample(net, schedule, x_T, noise=False)

    both()  # warm-up
    pairs = [{"notebook": seconds(both), **{name: seconds(fn) for name, fn in beside.items()}} for _ in range(repeats)]
    times = [p["notebook"] for p in pairs]
    row = {"case": f"course notebook {n}+{n}", "sprites": 2 * n, "steps": schedule.T, "median_s": statistics.median(times),
           "min_s": min(times), "max_s": max(times)}
    log(f"{row['case']:24s} {'notebook':9s} {row['median_s']:9.3f} {row['max_s'] - row['min_s']:9.3f}   "
        "(the course's ContextUnet, BatchNorm and all, eager fp32, its loop)")
    if beside:
        row["paired_s"] = pairs
        row["paired_speedup_median"] = {name: statistics.median(p["notebook"] / p[name] for p in pairs) for name in beside}
    return row


def run_bench(model: ContextUnet, cases: list[Case], schedule: Schedule = Schedule(), repeats: int = 3,
              fast: Engine | None = None, course: bool = True, demo: Callable[[int], object] | None = None, log=print) -> dict:
    """Time every case on the reference loop and on the fast path, the demo's run, and the course notebook; a JSON-ready dict.

    `demo(seed)`, where given, is the demo's default side by side through its own run code, frames and pictures included
    (demo/bench.py: the library does not import the demo); each call gets a seed of its own, as a kept run is replayed."""
    model = model.cpu().eval()
    fast = fast or TorchEngine(model)
    peak32 = matmul_peak(torch.float32)
    # Without native bf16 the bf16 product is emulated, slow and beside the point.
    peak16 = matmul_peak(torch.bfloat16) if cpu_has_bf16() else None
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__},
        "fast_path": fast.name,
        "matmul_peak_gflops": {"fp32": round(peak32, 1), "bf16": peak16 and round(peak16, 1)},
        "cases": [],
    }
    log(f"matmul peak here: fp32 {peak32:.0f} GFLOP/s, bf16 {f'{peak16:.0f} GFLOP/s' if peak16 else 'not native'}; "
        f"fast path: {fast.name}")
    log(f"{'case':24s} {'path':9s} {'median s':>9s} {'spread s':>9s} {'steps/s':>8s} {'sprites/s':>9s} {'GFLOP/s':>8s} {'speed-up':>8s}")
    for case in cases:
        n = case.batch // 2 if case.side_by_side else case.batch
        steps = case.ddim_steps or schedule.T
        if case.ddim_steps:
            ref = lambda: reference_ddim(model, schedule, seeded_noise(0, n)[0], steps)  # noqa: E731
        else:  # the side by side as the course would run it: the noisy loop, then the z = 0 loop
            def ref() -> torch.Tensor:
                x_T, noise = seeded_noise(0, n)
                out = reference_loop(model, schedule, x_T, noise)
                if case.side_by_side:
                    reference_loop(model, schedule, x_T, None)  # the course runs the z = 0 arm as a second loop
                return out
        flops = forward_flops(model, case.batch) * steps
        row = {"case": case.name, "batch": case.batch, "steps": steps, "side_by_side": case.side_by_side}
        # Same x_T and the same z for both paths: the final sprites should agree.
        row_images = {"reference": to_uint8(ref()), "fast": to_uint8(fast_run(fast, schedule, case)[:n])}
        for path, fn in (("reference", ref), ("fast", lambda: fast_run(fast, schedule, case))):
            times = timed(fn, repeats)
            med = statistics.median(times)
            row[path] = {"median_s": med, "min_s": min(times), "max_s": max(times), "steps_per_s": steps / med,
                         "sprites_per_s": case.batch / med, "gflops": flops / med / 1e9}
        row["speedup"] = row["reference"]["median_s"] / row["fast"]["median_s"]
        diff = abs(row_images["reference"].astype(int) - row_images["fast"].astype(int))
        row["final_pixel_diff"] = {"max": int(diff.max()), "mean": float(diff.mean())}
        result["cases"].append(row)
        for path in ("reference", "fast"):
            r = row[path]
            log(f"{case.name:24s} {path:9s} {r['median_s']:9.3f} {r['max_s'] - r['min_s']:9.3f} {r['steps_per_s']:8.1f} "
                f"{r['sprites_per_s']:9.2f} {r['gflops']:8.1f} {row['speedup'] if path == 'fast' else 1:7.2f}x")
        px = row["final_pixel_diff"]
        log(f"{'':24s} final sprites, fast vs reference: max |Δ| {px['max']}/255, mean {px['mean']:.2f}/255")
    side = next((case for case in cases if case.side_by_side), None)
    side_s = next((row["fast"]["median_s"] for row in result["cases"] if row["side_by_side"]), None)
    beside = {"fast": lambda: fast_run(fast, schedule, side)} if side else {}
    if demo is not None:
        seeds = itertools.count(1)
        beside["demo"] = lambda: demo(next(seeds))
        times = timed(beside["demo"], repeats)
        row = {"case": "demo run 16+16", "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
        if side_s:  # issue 13: the run code, frames and pictures within 1.15× of the sampling alone
            row["vs_fast_side_by_side"] = row["median_s"] / side_s
        result["demo_run"] = row
        ratio = f"; {row['vs_fast_side_by_side']:.2f}× the fast side by side" if side_s else ""
        log(f"{row['case']:24s} {'demo':9s} {row['median_s']:9.3f} {row['max_s'] - row['min_s']:9.3f}   "
            f"(the demo's run code, frames and PNGs{ratio})")
    if course:
        anchor = course_notebook(schedule, 16, repeats, log, beside=beside)
        if side_s:  # issue 13's bar: the demo's default run at least 10× faster than the notebook
            anchor["fast_side_by_side_speedup"] = anchor["median_s"] / side_s
        for name, ratio in anchor.get("paired_speedup_median", {}).items():
            log(f"{'':24s} {name}: {ratio:.1f}× faster than the notebook, alternated run for run (median of {repeats})")
        result["course_notebook"] = anchor
    return result


def default_cases(ddim_steps: int = 25) -> list[Case]:
    """The cases the issue names: DDPM at batch 16 and 32, side by side 16 + 16, DDIM at 16."""
    return [Case("ddpm b16", 16), Case("ddpm b32", 32), Case("side-by-side 16+16", 32, side_by_side=True),
            Case(f"ddim{ddim_steps} b16", 16, ddim_steps=ddim_steps)]


def save(result: dict, path: str) -> None:
    """Write the benchmark's result as JSON."""
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
