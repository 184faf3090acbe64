"""A class in the browser: N headless pages open a link that runs N different seeds in each page (information only).

    python scripts/browser_class.py http://127.0.0.1:7860/ --pages 30 --steps 20 --server-pid PID

Each page opens `?compute=browser&steps=S&seed=K&run=1`, so it computes its own run; the script waits until every page
says its run is done, and prints the wall time, how many finished, where each says it computed, and the server
process's CPU seconds over all of it (read from /proc, Linux). Here the pages share the server's two cores, so the
wall time is an upper bound on a class's wait; the server's CPU is what a Space would spend.
"""
from __future__ import annotations

import argparse
import time

from browser_timing import QUIET, cpu_seconds
from serve import chromium
from playwright.sync_api import sync_playwright


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--pages", type=int, default=30)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--server-pid", type=int, required=True)
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = chromium(pw, *QUIET)
        cpu0, start = cpu_seconds(a.server_pid), time.perf_counter()
        pages = []
        for k in range(a.pages):
            page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            page.goto(f"{a.url}?compute=browser&steps={a.steps}&seed={k}&run=1", wait_until="commit")
            pages.append(page)
        where = []
        for page in pages:
            page.get_by_text("frames kept").first.wait_for(timeout=600_000)
            where.append(page.locator("#status").inner_text().rsplit("·", 1)[-1].strip())
        wall, cpu = time.perf_counter() - start, cpu_seconds(a.server_pid) - cpu0
        browser.close()
    print(f"{len(where)}/{a.pages} pages done in {wall:.1f} s (page loads included); server CPU {cpu:.1f} s in all, "
          f"{cpu / a.pages:.2f} s a page; computed: {sorted(set(where))}")


if __name__ == "__main__":
    main()
