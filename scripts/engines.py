"""Time one forward pass of the demo's net on each engine, in one process: what ddpm.engine chooses between.

    python scripts/engines.py [--weights weights/sprites.safetensors] [--compile]      (about a minute; --compile adds two)
    python scripts/engines.py --batches 32 64 128 256 384      (the cost per sprite as runs are batched together)
    python scripts/engines.py --per-core 16 32 64      (one core, one fixed-shape chunk: the cost per sprite by chunk size)

"OpenVINO" is the engine the demo serves (fixed-shape chunks side by side, a core each); "chunks in turn" the same
chunks one after another on all cores, and "dynamic batch" the IR compiled for any batch: what it replaced.
Prints, per engine, the start-up (loading or compiling) and the median milliseconds of a forward pass at
each batch, by default 16 and 32 (the demo's side by side is 16 + 16), and per sprite. torch.compile is timed only with --compile: it is not
an engine the project uses, but the one it replaced.
"""
from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ddpm import UNetConfig, load_model  # noqa: E402
from ddpm.checkpoint import DEFAULT_WEIGHTS  # noqa: E402
from ddpm.device import cpu_has_bf16  # noqa: E402
from ddpm.engine import CHUNK, ROWS, OpenVINOEngine, TorchEngine, ir_path, read_fixed  # noqa: E402
from demo.batcher import pad_rows  # noqa: E402


def ms(fn, batch: int, reps: int = 60) -> float:
    """Median milliseconds of fn(x, t, c) at `batch`, after a few warm-up calls."""
    x, t, c = torch.randn(batch, 3, 16, 16), torch.full((batch,), 300), torch.zeros(batch, 5)
    with torch.inference_mode():
        for _ in range(5):
            fn(x, t, c)
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn(x, t, c)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def latency_openvino(weights: str, net: UNetConfig, chunk: int | None = None):
    """The IR compiled for all cores, one request at a time: for any batch (chunk None), or in fixed chunks of at
    most `chunk` rows run in turn, a short one padded to a multiple of ROWS: what OpenVINOEngine replaced."""
    import openvino as ov

    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": torch.get_num_threads(), "ENABLE_CPU_PINNING": False}
    if chunk is None:
        compiled = core.compile_model(str(ir_path(weights)), "CPU", config)
        return lambda x, t, c: torch.from_numpy(compiled([x.numpy(), t.numpy(), c.numpy()])[0])

    @functools.cache
    def shaped(rows: int):
        return core.compile_model(read_fixed(core, ir_path(weights), rows, net), "CPU", config)

    def in_turn(x, t, c):
        parts = []
        for s in range(0, len(x), chunk):
            padded = [pad_rows(a[s:s + chunk], ROWS).numpy() for a in (x, t, c)]
            parts.append(shaped(len(padded[0]))(padded)[0][:len(x) - s])
        return torch.from_numpy(np.concatenate(parts))
    shaped(chunk)
    return in_turn


def per_core(weights: str, net: UNetConfig, chunks: list[int], rounds: int = 8) -> dict[int, float]:
    """Median ms a sprite of one fixed-shape chunk of each size on one thread, the sizes alternated round by round
    (the machine drifts within minutes): a solo default run computes chunks of 16 a core, the classroom's 64 rows 32."""
    import openvino as ov

    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1, "ENABLE_CPU_PINNING": False}
    requests = {}
    for rows in chunks:
        request = core.compile_model(read_fixed(core, ir_path(weights), rows, net), "CPU", config).create_infer_request()
        inputs = [torch.randn(rows, 3, net.height, net.height).numpy(), np.full(rows, 250), np.zeros((rows, net.n_cfeat), np.float32)]
        request.infer(inputs)  # warm
        requests[rows] = request, inputs
    times: dict[int, list[float]] = {rows: [] for rows in chunks}
    for _ in range(rounds):
        for rows, (request, inputs) in requests.items():
            reps = max(1, 128 // rows)
            start = time.perf_counter()
            for _ in range(reps):
                request.infer(inputs)
            times[rows].append((time.perf_counter() - start) / (reps * rows) * 1e3)
    return {rows: statistics.median(t) for rows, t in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--compile", action="store_true", help="also time torch.compile (fp32, freezing, dynamic batch)")
    p.add_argument("--batches", type=int, nargs="+", default=[16, 32])
    p.add_argument("--per-core", type=int, nargs="+", metavar="ROWS", help="only the cost per sprite of chunks of these sizes on one core")
    a = p.parse_args()
    model = load_model(a.weights, "cpu")
    if a.per_core:
        for rows, cost in per_core(a.weights, model.config, a.per_core).items():
            print(f"one core, chunks of {rows:3d}: {cost:.3f} ms a sprite (median of 8 alternated rounds)")
        return
    engines = [("eager torch fp32", lambda: TorchEngine(model, bf16=False))]
    if cpu_has_bf16():
        engines.append(("eager torch bf16 autocast", lambda: TorchEngine(model, bf16=True)))
    engines.append(("OpenVINO", lambda: OpenVINOEngine(ir_path(a.weights), a.weights, model.config)))
    engines.append(("OpenVINO, chunks in turn", lambda: latency_openvino(a.weights, model.config, CHUNK)))
    engines.append(("OpenVINO, dynamic batch", lambda: latency_openvino(a.weights, model.config)))
    if a.compile:
        def compiled():
            import torch._inductor.config as inductor

            inductor.freezing = True
            net = torch.compile(model, dynamic=True)
            for batch in (3, 5):
                ms(net, batch, reps=1)
            return net
        engines.append(("torch.compile fp32", compiled))
    print(f"{'engine':28s} {'start-up s':>10s} " + " ".join(f"{f'ms b{b}':>8s} {'/sprite':>8s}" for b in a.batches))
    for name, make in engines:
        start = time.perf_counter()
        engine = make()
        ready = time.perf_counter() - start
        label = f"{name} ({engine.name})" if hasattr(engine, "name") else name
        times = [ms(engine, b, reps=max(5, 60 * 32 // b)) for b in a.batches]
        print(f"{label:28s} {ready:10.2f} " + " ".join(f"{t:8.1f} {t / b:8.3f}" for t, b in zip(times, a.batches)), flush=True)


if __name__ == "__main__":
    main()
