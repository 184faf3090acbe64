"""Time the demo's side-by-side 500-step run in a browser at several frame rates, beside the same sampling alone.

    python scripts/fps_timing.py --fps 4,10 --rounds 4      (from the repository root; ports 7930 on; ~10 minutes)

This machine's speed drifts through the day by 20 % or more, so one number alone says little. This starts
one app per DDPM_FPS value and a reference process that runs the same request with no server and no
browser (ddpm.stream.run at its default 25 frames a second, consumed at once; fast path, warm), waits until
each app runs on its compiled path, then repeats in rounds: the reference once, then each app once
in headless Chromium (scripts/browser_timing.py, a fresh page, the second run of two is kept), in
alternating order. Prints each round, then each setting's times sorted.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reference() -> None:
    """The reference process: on each line from stdin, one warm side-by-side run; print its seconds."""
    sys.path.insert(0, str(ROOT))
    from ddpm.checkpoint import SMALL_WEIGHTS, load_model
    from ddpm.fast import FastModel
    from ddpm.stream import on_sampler_thread, parse_request, run

    model = on_sampler_thread(lambda: FastModel(load_model(SMALL_WEIGHTS, "cpu")))
    model.ready.wait()
    req = parse_request("DDPM", 500, 0, 16, "any", True, 1.0, True)
    for _ in run(model, req):  # warm up
        pass
    print("ready", flush=True)
    for _ in sys.stdin:
        start = time.perf_counter()
        for _ in run(model, req):
            pass
        print(f"{time.perf_counter() - start:.2f}", flush=True)


def wait_until_serving(url: str) -> None:
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.5)


def browser_run(url: str) -> tuple[float, str]:
    """Seconds from Run to the last frame of the second of two runs in a fresh page, and its status line."""
    out = subprocess.run([sys.executable, "scripts/browser_timing.py", url, "--runs", "2"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    seconds, status = re.findall(r"last frame after ([0-9.]+) s; status: (.*)", out)[-1]
    return float(seconds), status


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--fps", default="4,10", help="DDPM_FPS values, one app each")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.reference:
        return reference()
    apps = {}
    for i, fps in enumerate(a.fps.split(",")):
        env = {**os.environ, "GRADIO_SERVER_PORT": str(7930 + i), "DDPM_FPS": fps}
        apps[f"{fps} fps"] = (f"http://127.0.0.1:{7930 + i}/",
                              subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    ref = subprocess.Popen([sys.executable, __file__, "--reference"], cwd=ROOT, text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert ref.stdout.readline().strip() == "ready"
        for url, _ in apps.values():
            wait_until_serving(url)
            while "compiled" not in browser_run(url)[1]:  # until the background compile has switched paths
                pass
        times: dict[str, list[float]] = {"sampling alone": [], **{name: [] for name in apps}}
        for r in range(a.rounds):
            ref.stdin.write("go\n")
            ref.stdin.flush()
            times["sampling alone"].append(float(ref.stdout.readline()))
            for name in (list(apps) if r % 2 == 0 else list(apps)[::-1]):
                times[name].append(browser_run(apps[name][0])[0])
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
        for name, values in times.items():
            print(f"{name}: " + ", ".join(f"{v:.1f}" for v in sorted(values)) + " s")
    finally:
        for _, proc in apps.values():
            proc.kill()
        ref.kill()


if __name__ == "__main__":
    main()
