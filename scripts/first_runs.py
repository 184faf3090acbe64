"""The runs a teacher meets after starting the app: start `python app.py`, ask for the default run at once, and again.

    python scripts/first_runs.py [--runs 4] [--port 7862] [--paired]      (from the repository root)

Prints when the page served, then each run's first frame, total time (through its last frame) and status
line, which names the path that served it. Runs follow one another, so the first ones overlap any work the app
does at start. With --paired, each API run is followed by the same sampling alone in this process (the
library's sampler on the fast path, as `python -m ddpm bench` times it) while the server idles, and the
ratio of the two is printed: what the API adds to sampling, measured in the same minute.
"""
from __future__ import annotations

import argparse
import statistics
import sys

from serve import DEFAULT_RUN, ROOT, client, served, timed_run


def sampling_alone():
    """A function that samples the default run (16 + 16, 500 steps) on the fast path and returns its seconds."""
    sys.path.insert(0, str(ROOT))
    from ddpm.bench import default_cases, fast_run, seconds
    from ddpm.checkpoint import DEFAULT_WEIGHTS
    from ddpm.engine import fast_model
    from ddpm.schedule import Schedule

    fast = fast_model(DEFAULT_WEIGHTS, "cpu")
    case = next(c for c in default_cases() if c.side_by_side)  # the demo's default run, as bench times it
    return lambda: seconds(lambda: fast_run(fast, Schedule(), case))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--port", type=int, default=7862)
    p.add_argument("--paired", action="store_true", help="after each API run, time the sampling alone")
    a = p.parse_args()
    with served(a.port) as (url, _, serve_s):
        print(f"served after {serve_s:.1f} s")
        api = client(url)
        alone = sampling_alone() if a.paired else None
        ratios = []
        for i in range(a.runs):
            # The default run first; then the same with other seeds, since a finished run is kept and replayed.
            r = timed_run(api, (*DEFAULT_RUN[:2], i, *DEFAULT_RUN[3:]))
            print(f"run {i + 1}: first frame {r.first_frame:.2f} s, done after {r.total:.1f} s; {r.status}", flush=True)
            if alone is not None:
                s = alone()
                ratios.append(r.total / s)
                print(f"        sampling alone {s:.1f} s: the API run took {ratios[-1]:.2f}× that", flush=True)
        if ratios:
            print(f"API / sampling alone: median {statistics.median(ratios):.2f}×, max {max(ratios):.2f}× (bar 1.15×)")


if __name__ == "__main__":
    main()
