"""Time a demo run as a visitor sees it: headless Chromium clicks Run on a running app (information only).

    python scripts/browser_timing.py 'http://127.0.0.1:7860/?compute=browser' [--steps 500] [--server-pid PID] [--screenshot F]

On a Space the browser runs on the visitor's machine; here it shares the server's two cores, so these
times are an upper bound on what a visitor waits for. scripts/first_runs.py times the API alone.

Prints the time from the click to the first frame, the frames that reached the page, and the time to "done";
with --server-pid, also the CPU seconds the server and Chromium used in each run, its files (GIF, MP4, PNG) included
(read from /proc, Linux). `?compute=browser` or `?compute=server` in the address chooses where the runs compute.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from playwright.sync_api import sync_playwright
from serve import chromium

QUIET = ("--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync")


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU time of a process so far, its finished children's (ffmpeg's) included (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _comm(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return ""


def chromium_seconds() -> float:
    """CPU time of every Chromium process on the machine (the one this script starts, on a test machine)."""
    pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit()]
    return sum(cpu_seconds(p) for p in pids if "chrom" in _comm(p))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--runs", type=int, default=2, help="the first run warms up; the last is reported")
    p.add_argument("--screenshot", default=None)
    p.add_argument("--server-pid", type=int, default=None, help="the app's process, to report its CPU time per run")
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = chromium(pw, *QUIET)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(a.url, wait_until="load")
        run = page.get_by_role("button", name="Run", exact=True)
        run.wait_for(timeout=60_000)
        steps = page.get_by_role("spinbutton", name="number input for denoising steps")
        steps.fill(str(a.steps))
        steps.press("Enter")
        # Record every change of the left image in the page itself, so polling does not load the CPU.
        page.evaluate("""() => {
            window.__frames = [];
            new MutationObserver(() => window.__frames.push(performance.now()))
                .observe(document.querySelector('#stage'), {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
        }""")
        seed = page.get_by_role("spinbutton", name="number input for seed", exact=True)
        status = page.get_by_text("frames kept")
        for i in range(a.runs):
            # Seeds 0, 1, …: a finished run is kept, and pressing Run on it again replays it instead of sampling.
            seed.fill(str(i))
            seed.press("Enter")
            before = set(page.locator('a[href$="/final.png"]').evaluate_all("els => els.map(e => e.href)"))
            cpu0 = (cpu_seconds(a.server_pid), chromium_seconds()) if a.server_pid else None
            page.evaluate("() => { window.__frames = []; window.__click = performance.now(); }")
            run.click()
            page.wait_for_function("() => !document.body.textContent.includes('frames kept')", timeout=60_000)
            page.wait_for_function("() => document.body.textContent.includes('frames kept')", timeout=300_000, polling=200)
            click, frames = page.evaluate("() => [window.__click, window.__frames]")
            total = (frames[-1] - click) / 1000
            print(f"run {i + 1}: first frame {(frames[0] - click) / 1000:.2f} s after the click; {len(frames)} image "
                  f"updates reached the page ({len(frames) / total:.1f}/s); last frame after {total:.1f} s; "
                  f"status: {status.first.inner_text()}")
            if cpu0:
                page.wait_for_function("(before) => [...document.querySelectorAll('a[href$=\"/final.png\"]')]"
                                       ".some(a => !before.includes(a.href))", arg=sorted(before), timeout=120_000, polling=200)
                print(f"       CPU in that run, its files included: server {cpu_seconds(a.server_pid) - cpu0[0]:.2f} s, "
                      f"Chromium {chromium_seconds() - cpu0[1]:.1f} s")
        if a.screenshot:
            page.wait_for_timeout(1000)
            page.screenshot(path=a.screenshot, full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
