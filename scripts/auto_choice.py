"""Where compute=auto computes, against the measured times (issue 34; docs/performance.md, "Where auto computes").

    python scripts/auto_choice.py [--steps 500] [--load 8]

Starts app.py, then in one headless Chromium page (a fresh page each, so each first run loads the runtime):
1. the default page (compute=auto), the server idle: where it ran, why (both estimates), and its time to done;
2. the same run with ?compute=server, and with ?compute=browser: the measured times the estimates stand for;
3. with --load distinct default runs in flight on the server (gradio_client), the default page again.
Seeds differ run to run, so that no run replays a kept one.
"""
from __future__ import annotations

import argparse
import time

from gradio_client import Client
from playwright.sync_api import sync_playwright
from serve import DEFAULT_RUN, chromium, served


def timed(browser, url: str, seed: int) -> tuple[float, str]:
    """Seconds from the Run press to the status's "frames kept" on a fresh page at `url`, and that status line."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}&seed={seed}", wait_until="load")
    page.locator("#run").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)  # the page's own start (the stage's script) settles
    start = time.perf_counter()
    page.locator("#run").click()
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('frames kept')", timeout=600_000,
                           polling=100)
    seconds = time.perf_counter() - start
    status = page.locator("#status").inner_text()
    page.close()
    return seconds, status


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--load", type=int, default=8, help="distinct server runs in flight for the loaded case")
    p.add_argument("--port", type=int, default=7890)
    a = p.parse_args()
    with served(a.port) as (url, _, _), sync_playwright() as pw:
        browser = chromium(pw)
        base = f"{url}?steps={a.steps}"
        for name, query, seed in (("auto, idle server", "", 10), ("compute=server", "&compute=server", 11),
                                  ("auto, idle server, again", "", 12), ("compute=browser", "&compute=browser", 13)):
            seconds, status = timed(browser, base + query, seed)
            print(f"{name}: {seconds:.1f} s · {status.split(' · ', 3)[-1]}", flush=True)
        client = Client(url, verbose=False)
        jobs = [client.submit(*DEFAULT_RUN[:2], 100 + k, *DEFAULT_RUN[3:], api_name="/denoise") for k in range(a.load)]
        while not all(job.status().code.name in ("PROCESSING", "ITERATING") for job in jobs):
            time.sleep(0.2)
        start = time.perf_counter()
        seconds, status = timed(browser, base, 14)
        print(f"auto, {a.load} server runs in flight: {seconds:.1f} s · {status.split(' · ', 3)[-1]}", flush=True)
        for job in jobs:
            job.result(timeout=900)
        print(f"the {a.load} server runs were done {time.perf_counter() - start:.1f} s after that press", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
