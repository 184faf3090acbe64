"""Where one forward pass of the fast path spends its time: the convolutions against everything else.

    python scripts/forward_profile.py      (from the repository root; the demo's model; about a minute)

Prints, per batch size, the profiled time of one compiled bf16 forward pass, the share of it in
convolutions (oneDNN) and their GFLOP/s, to set beside the bf16 matmul peak that `python -m ddpm bench`
measures. It bounds what any fast path of this network can reach on this CPU. Last, the cost of the
sampler loop itself: a side-by-side 500-step run of 16 + 16 with a model that returns zeros.
"""
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere, without installing
from ddpm import FastModel, load_model, sample, sampler, seeded_noise  # noqa: E402
from ddpm.checkpoint import SMALL_WEIGHTS  # noqa: E402

REPEATS = 200

model = load_model(SMALL_WEIGHTS, "cpu")
fast = FastModel(model)
fast.ready.wait()
for batch in (16, 32):
    x, t = torch.randn(batch, 3, 16, 16), torch.full((batch,), 300)
    with torch.inference_mode():
        for _ in range(20):  # warm up
            fast(x, t)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(REPEATS):
                fast(x, t)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / REPEATS / 1e3
    conv = sum(e.self_cpu_time_total for e in events if "convolution" in e.key) / REPEATS / 1e3
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, t)
    conv_flops = sum(v for k, v in counter.get_flop_counts()["Global"].items() if "conv" in str(k))
    print(f"batch {batch}: forward {total:.2f} ms; convolutions {conv:.2f} ms ({conv / total:.0%}), "
          f"{conv_flops / 1e9:.2f} GFLOP at {conv_flops / conv / 1e6:.0f} GFLOP/s; everything else {total - conv:.2f} ms")


def zero_model(x: torch.Tensor, t: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
    return torch.zeros_like(x)


x_T, _ = seeded_noise(0, 16)
loop = []
for _ in range(4):  # the first warms up
    start = time.perf_counter()
    sample(sampler("ddpm", zero_model, x_T, generator=seeded_noise(0, 16)[1], side_by_side=True))
    loop.append(time.perf_counter() - start)
print(f"sampler loop alone (side by side 16 + 16, 500 steps, zero model): {min(loop[1:]):.2f} s")
