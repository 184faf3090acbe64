"""The runs a teacher meets after starting the app: start `python app.py`, ask for the default run at once, and again.

    python scripts/first_runs.py [--runs 4] [--port 7862]      (from the repository root)

Prints when the page served, then each run's first frame, total time (through its last frame) and status
line, which names the path that served it. Runs follow one another, so the first ones overlap any work the app
does at start.
"""
from __future__ import annotations

import argparse

from serve import DEFAULT_RUN, client, served, timed_run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--port", type=int, default=7862)
    a = p.parse_args()
    with served(a.port) as (url, _, serve_s):
        print(f"served after {serve_s:.1f} s")
        api = client(url)
        for i in range(a.runs):
            # The default run first; then the same with other seeds, since a finished run is kept and replayed.
            r = timed_run(api, (*DEFAULT_RUN[:2], i, *DEFAULT_RUN[3:]))
            print(f"run {i + 1}: first frame {r.first_frame:.2f} s, done after {r.total:.1f} s; {r.status}", flush=True)


if __name__ == "__main__":
    main()
