"""Time the side-by-side 500-step run (16 + 16 sprites, fast path, warm) on three threads of a fresh process:

    python scripts/thread_penalty.py

  main:           the main thread, as `python -m ddpm bench` runs it;
  worker:         a second thread, after the main thread has done a little torch work (a Schedule);
  sampler-only:   the demo's sampling thread, which alone has done torch work (as app.py arranges).
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere, without installing
from ddpm import Schedule, load_model, sample, sample_side_by_side, seeded_noise  # noqa: E402
from ddpm.checkpoint import SMALL_WEIGHTS  # noqa: E402
from ddpm.fast import FastModel  # noqa: E402
from ddpm.stream import on_sampler_thread  # noqa: E402


def side_by_side(fast: FastModel) -> float:
    x_T, gens = seeded_noise(0, 16)
    start = time.perf_counter()
    sample(sample_side_by_side(fast, Schedule(), x_T, gens))
    return time.perf_counter() - start


def scenario(name: str) -> None:
    if name == "sampler-only":
        fast = on_sampler_thread(lambda: FastModel(load_model(SMALL_WEIGHTS)))
        fast.ready.wait()
        times = [on_sampler_thread(lambda: side_by_side(fast)) for _ in range(3)]
    else:
        fast = FastModel(load_model(SMALL_WEIGHTS))
        fast.ready.wait()
        Schedule()  # a little torch work on the main thread
        if name == "main":
            times = [side_by_side(fast) for _ in range(3)]
        else:
            times = []
            for _ in range(3):
                worker = threading.Thread(target=lambda: times.append(side_by_side(fast)))
                worker.start()
                worker.join()
    print(f"{name:13s} " + "  ".join(f"{t:.2f} s" for t in times[1:]) + "   (first, a warm-up, dropped)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        scenario(sys.argv[1])
    else:  # each in a fresh process: which threads have done torch work is the point
        for name in ("main", "worker", "sampler-only"):
            subprocess.run([sys.executable, __file__, name], check=True)
