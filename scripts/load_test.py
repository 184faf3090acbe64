"""A classroom at once: start `python app.py` on loopback, time warm solo runs, then let many clients press Run together.

    python scripts/load_test.py [--identical 20] [--distinct 10] [--distinct-steps 100] [--throughput] [--memory] [--json runs/load.json]
    python scripts/load_test.py --in-process      (the same throughput without a server: the batcher alone)

The identical clients ask for the default run (DDPM, 500 steps, seed 0, 16 + 16 sprites); the distinct ones for
runs of --distinct-steps steps with seeds 1, 2, … Everything is bounded: the clients, their runs, and the server,
which is stopped at the end. Prints each group's time to the first frame and to the end against the solo time (the
median of three warm solo runs, two before the load and one after), with --throughput the sprite-steps a second of
1, 2, 4 and 8 concurrent runs, and with --memory the server's resident memory over 100 runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

from serve import DEFAULT_RUN, client, served, timed_run

BARS = {"first_frame_s": 2.0, "identical_vs_solo": 2.5, "all_vs_solo": 3.0}  # issue 15


def together(url: str, requests: list[tuple]) -> tuple[list[dict], float]:
    """Submit every request at once, each from its own client; each one's first frame, end, status or error, and the wall time."""
    clients = [client(url) for _ in requests]  # connected before the start, as students' pages are
    results: list[dict] = [{} for _ in requests]
    go = threading.Barrier(len(requests) + 1)

    def one(i: int) -> None:
        go.wait()
        try:
            r = timed_run(clients[i], requests[i])
            results[i] = {"first_frame_s": r.first_frame, "total_s": r.total, "status": r.status}
        except Exception as e:  # reported, not raised: every client's outcome counts
            results[i] = {"error": f"{type(e).__name__}: {e}"}

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(requests))]
    for th in threads:
        th.start()
    start = time.perf_counter()
    go.wait()
    for th in threads:
        th.join(timeout=900)
    return results, time.perf_counter() - start


def run_args(steps: int, seed: int, n: int = 16) -> tuple:
    """/denoise arguments: DDPM side by side, unconditional, λ = 1."""
    return ("DDPM", steps, seed, n, "any", True, 1.0, True, "x_t", "all")


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system, all threads) a process has used so far, from /proc (Linux); this one if pid is None."""
    fields = Path(f"/proc/{pid or 'self'}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15 of proc(5)


def classroom(url: str, identical: int, distinct: int, distinct_steps: int, default: tuple = DEFAULT_RUN, seed0: int = 1,
              server_pid: int | None = None) -> dict:
    """The load: `identical` default runs and `distinct` runs of their own, all at once; a summary with the bars' ratios.

    With `server_pid`, also the CPU seconds the server and these clients used during the load: they share the cores."""
    api = client(url)

    def solo_run(seed: int) -> float:
        # Each with a seed of its own: a finished run is kept and replayed, and the load's identical runs
        # must be computed, not replayed.
        return timed_run(api, (*default[:2], seed, *default[3:])).total

    solo_run(10_000)  # warm
    # The solo time is the median of three warm runs, two before the load and one after: one run alone
    # drifted from 4.7 to 9.0 s between loads on this machine, and the ratios are taken against it.
    solos = [solo_run(10_001), solo_run(10_002)]
    requests = [default] * identical + [run_args(distinct_steps, seed0 + i, default[3]) for i in range(distinct)]
    cpu_before = (cpu_s(server_pid), cpu_s()) if server_pid else None
    results, wall = together(url, requests)
    cpu = {"server_cpu_s": cpu_s(server_pid) - cpu_before[0], "clients_cpu_s": cpu_s() - cpu_before[1]} if cpu_before else {}
    solos.append(solo_run(10_003))
    solo = statistics.median(solos)
    same, other = results[:identical], results[identical:]
    errors = [r["error"] for r in results if "error" in r]
    done = [r for r in results if "total_s" in r]
    summary = {
        "clients": len(results), "identical": identical, "distinct": distinct, "distinct_steps": distinct_steps,
        "solo_s": solo, "solo_runs_s": solos, "wall_s": wall, **cpu, "errors": errors,
        "first_frame_max_s": max((r["first_frame_s"] for r in done), default=None),
        "identical_max_s": max((r["total_s"] for r in same if "total_s" in r), default=None),
        "distinct_max_s": max((r["total_s"] for r in other if "total_s" in r), default=None),
        "all_done_s": max((r["total_s"] for r in done), default=None),
        "results": results,
    }
    if summary["identical_max_s"] is not None:
        summary["identical_vs_solo"] = summary["identical_max_s"] / solo
    if summary["all_done_s"] is not None:
        summary["all_vs_solo"] = summary["all_done_s"] / solo
    return summary


def throughput(url: str, counts: tuple[int, ...] = (1, 2, 4, 8), steps: int = 100, n: int = 16) -> list[dict]:
    """Sprite-steps a second with k distinct runs at once (each 2n sprites × `steps`), through the API."""
    rows = []
    for k in counts:
        results, wall = together(url, [run_args(steps, 50_000 + 100 * k + i, n) for i in range(k)])
        rows.append({"runs": k, "wall_s": wall, "sprite_steps_per_s": k * 2 * n * steps / wall,
                     "errors": [r["error"] for r in results if "error" in r]})
        print(f"{k} runs at once: {rows[-1]['sprite_steps_per_s']:.0f} sprite-steps/s ({wall:.1f} s)", flush=True)
    return rows


def in_process(counts: tuple[int, ...] = (1, 2, 4, 8), steps: int = 100, n: int = 16) -> list[dict]:
    """Sprite-steps a second with k distinct runs at once through the demo's run code in this process, no server."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from demo.request import parse_request
    from demo.serving import join_run, load_demo_model

    served = load_demo_model()
    rows = []
    for k in counts:
        reqs = [parse_request(steps=steps, seed=60_000 + 100 * k + i, n=n) for i in range(k)]
        threads = [threading.Thread(target=lambda r=r: list(join_run(served.fast, r).watch())) for r in reqs]
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - start
        rows.append({"runs": k, "wall_s": wall, "sprite_steps_per_s": k * 2 * n * steps / wall})
        print(f"{k} runs at once, in process: {rows[-1]['sprite_steps_per_s']:.0f} sprite-steps/s ({wall:.1f} s)", flush=True)
    return rows


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def memory(url: str, pid: int, runs: int = 100) -> dict:
    """The server's resident memory after 20 warm-up runs and after `runs` more, 4 at a time (short runs, distinct seeds)."""
    def batch(seeds: range) -> None:
        together(url, [run_args(20, 70_000 + s, 4) for s in seeds])

    for k in range(0, 20, 4):
        batch(range(k, k + 4))
    before = rss_mb(pid)
    for k in range(20, 20 + runs, 4):
        batch(range(k, k + 4))
    after = rss_mb(pid)
    print(f"server memory {before:.0f} MB → {after:.0f} MB over {runs} runs", flush=True)
    return {"runs": runs, "rss_before_mb": before, "rss_after_mb": after}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=7863)
    p.add_argument("--identical", type=int, default=20)
    p.add_argument("--distinct", type=int, default=10)
    p.add_argument("--distinct-steps", type=int, default=100)
    p.add_argument("--throughput", action="store_true", help="also sprite-steps/s with 1, 2, 4, 8 runs at once")
    p.add_argument("--memory", action="store_true", help="also the server's memory over 100 runs")
    p.add_argument("--json", default="runs/load.json", help="where to write the numbers (runs/ is not tracked)")
    p.add_argument("--in-process", action="store_true", help="only the throughput of 1, 2, 4, 8 runs in this process, no server")
    a = p.parse_args()
    if a.in_process:
        in_process()
        return
    with served(a.port) as (url, proc, serve_s):
        out = {"served_s": serve_s}
        if a.throughput:
            out["throughput"] = throughput(url)
        s = out["classroom"] = classroom(url, a.identical, a.distinct, a.distinct_steps, server_pid=proc.pid)
        if a.memory:
            out["memory"] = memory(url, proc.pid)
    print(f"warm solo default run {s['solo_s']:.1f} s (median of {', '.join(f'{x:.1f}' for x in s['solo_runs_s'])}); "
          f"{s['clients']} clients at once, {len(s['errors'])} errors")
    print(f"CPU during the load: server {s['server_cpu_s']:.0f} s, the {s['clients']} clients {s['clients_cpu_s']:.0f} s "
          f"({os.cpu_count()} cores × {s['wall_s']:.0f} s wall = {os.cpu_count() * s['wall_s']:.0f} s)")
    print(f"first frame at most {s['first_frame_max_s']:.2f} s (bar {BARS['first_frame_s']} s)")
    if s["identical_max_s"] is not None:  # none with --identical 0
        print(f"identical runs done by {s['identical_max_s']:.1f} s = {s['identical_vs_solo']:.2f}× solo "
              f"(bar {BARS['identical_vs_solo']}×)")
    if s["distinct_max_s"] is not None:  # none with --distinct 0
        print(f"distinct runs done by {s['distinct_max_s']:.1f} s")
    if s["all_done_s"] is not None:
        print(f"everything by {s['all_done_s']:.1f} s = {s['all_vs_solo']:.2f}× solo (bar {BARS['all_vs_solo']}×)")
    for e in s["errors"]:
        print("error:", e)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
