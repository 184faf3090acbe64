"""Time a demo run as a visitor sees it: headless Chromium clicks Run on a running app.

    python scripts/browser_timing.py http://127.0.0.1:7860/ [--steps 500] [--screenshot assets/screenshot.png]

Prints the time from the click to the first frame, the frames that reached the page, and the time to "done".
"""
from __future__ import annotations

import argparse
from playwright.sync_api import sync_playwright

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--runs", type=int, default=2, help="the first run warms up; the last is reported")
    p.add_argument("--screenshot", default=None)
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
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
                .observe(document.querySelector('.pixelated'), {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
        }""")
        status = page.get_by_text("frames shown")
        for i in range(a.runs):
            page.evaluate("() => { window.__frames = []; window.__click = performance.now(); }")
            run.click()
            page.wait_for_function("() => !document.body.innerText.includes('frames shown')", timeout=60_000)
            page.wait_for_function("() => document.body.innerText.includes('frames shown')", timeout=300_000, polling=200)
            click, frames = page.evaluate("() => [window.__click, window.__frames]")
            total = (frames[-1] - click) / 1000
            print(f"run {i + 1}: first frame {(frames[0] - click) / 1000:.2f} s after the click; {len(frames)} image "
                  f"updates reached the page ({len(frames) / total:.1f}/s); last frame after {total:.1f} s; "
                  f"status: {status.first.inner_text()}")
        if a.screenshot:
            page.wait_for_timeout(1000)
            page.screenshot(path=a.screenshot, full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
