"""What the timing scripts share: start `python app.py`, wait until it serves, and time runs through its API."""
from __future__ import annotations

import contextlib
import functools
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADLESS = ("--headless=new", "--no-sandbox", "--disable-gpu")
# The demo's default run: DDPM, 500 steps, seed 0, 16 sprites, unconditional, λ = 1, side by side.
DEFAULT_RUN = ("DDPM", 500, 0, 16, "any", True, 1.0, True, "x_t", "all")


@contextlib.contextmanager
def served(port: int, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """Run app.py on 127.0.0.1:`port` with `env` added; yield (url, process, seconds until the page served)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**os.environ, "GRADIO_SERVER_PORT": str(port), **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > timeout:
                    raise RuntimeError(f"app.py did not serve on port {port}") from None
                time.sleep(0.1)
        yield url, proc, time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass(frozen=True)
class Timed:
    """One run through the API: seconds to its first frame and to its last update, and its final status line."""

    first_frame: float
    total: float
    status: str


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def client(url: str):
    """A gradio_client that costs the shared cores little: a student's browser runs elsewhere, the timing client here.

    It fetches no output files (the schedule picture of every update): each fetch builds a TLS context, which
    cost the loopback clients as much CPU as the server's sampling (docs/performance.md)."""
    from gradio_client import Client

    # One TLS context for every request of every client: gradio_client hands `ssl_verify` to each httpx call
    # as `verify`, and httpx builds a fresh context (loading the CA bundle, ~20 ms of CPU) for a bool, but
    # uses a context it is given. Thirty clients pressing Run at once built ~100 of them, on the server's cores.
    return Client(url, verbose=False, download_files=False, ssl_verify=_tls_context())


def timed_run(client, args: tuple = DEFAULT_RUN, poll: float = 0.01) -> Timed:
    """Submit one /denoise run, look every `poll` seconds for its first frame, then wait for its end without looking.

    Not `for update in job`: that loop wakes every millisecond, and thirty of them took a core from the server.
    Nor polling to the end: thirty clients polling every 10 ms cost the shared cores about a second of CPU a load."""
    start = time.perf_counter()
    first = None
    job = client.submit(*args, api_name="/denoise")
    while first is None and not job.done():
        if job.outputs():
            first = time.perf_counter() - start
        else:
            time.sleep(poll)
    job.result()  # waits on the job's own condition; raises the run's error, if any
    end = time.perf_counter() - start
    return Timed(first if first is not None else end, end, job.outputs()[-1][1])  # outputs: stage, status, plot, …


def chromium(pw, *extra: str):
    """Debian's Chromium, headless, launched by playwright's `pw` (`playwright install` cannot download its own here)."""
    return pw.chromium.launch(executable_path="/usr/bin/chromium", args=[*HEADLESS, *extra])
