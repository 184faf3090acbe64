"""What the weak net costs a step: each net alone on the fast engine at the default run's rows, and both nets as
one OpenVINO graph against each alone (docs/performance.md, "Autoguided by default"). Quiet machine.

    python scripts/weak_cost.py [--rows 32]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from ddpm import load_model  # noqa: E402
from ddpm.checkpoint import DEFAULT_WEIGHTS, weak_path  # noqa: E402
from ddpm.engine import fast_model  # noqa: E402
from ddpm.guidance import DEFAULT_AUTOGUIDANCE, AutoGuided  # noqa: E402


def ms_per_call(f, args, calls: int = 200) -> float:
    for _ in range(20):  # warm-up
        f(*args)
    t0 = time.perf_counter()
    for _ in range(calls):
        f(*args)
    return (time.perf_counter() - t0) / calls * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=32, help="rows a call (the default run: 16 + 16)")
    a = p.parse_args()
    x, t, c = torch.randn(a.rows, 3, 16, 16), torch.full((a.rows,), 250), torch.zeros(a.rows, 5)
    weak = weak_path(DEFAULT_WEIGHTS)
    for label, kw in (("OpenVINO bf16", {}), ("OpenVINO fp32", {"bf16": False}), ("eager torch", {"openvino": False})):
        main_net = fast_model(DEFAULT_WEIGHTS, warm=(a.rows,), **kw)
        weak_net = fast_model(weak, warm=(a.rows,), **kw)
        print(f"{label:14s} main {ms_per_call(main_net, (x, t, c)):.2f} ms, weak {ms_per_call(weak_net, (x, t, c)):.2f} ms"
              f" ({main_net.name}, {weak_net.name})", flush=True)

    # Both nets in one graph, against each alone, each compiled the same way (one request, both cores).
    import openvino as ov

    both = AutoGuided(load_model(DEFAULT_WEIGHTS, device="cpu"), load_model(weak, device="cpu"), DEFAULT_AUTOGUIDANCE)

    class Graph(torch.nn.Module):
        def __init__(self, fn) -> None:
            super().__init__()
            self.fn, self.nets = fn, torch.nn.ModuleList([both.main, both.weak])

        def forward(self, x, t, c):
            return self.fn(x, t, c)

    core = ov.Core()
    config = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": torch.get_num_threads(),
              "INFERENCE_PRECISION_HINT": "bf16", "ENABLE_HYPER_THREADING": False, "ENABLE_CPU_PINNING": False}
    for name, fn in (("main", both.main), ("weak", both.weak), ("both", both)):
        with torch.no_grad():
            program = torch.export.export(Graph(fn).eval(), (x, t, c))
        request = core.compile_model(ov.convert_model(program), "CPU", config).create_infer_request()
        print(f"one graph, {name:4s} {ms_per_call(request.infer, ([x.numpy(), t.numpy(), c.numpy()],)):.2f} ms", flush=True)


if __name__ == "__main__":
    main()
