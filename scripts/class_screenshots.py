"""The README's pictures of the page: the teacher's sequence, step by step, in headless Chromium.

    python scripts/class_screenshots.py [--out assets]      (starts app.py on port 7880; about five minutes)

Writes class_1_noise.png … class_7_inside.png: each is the page's top after that step, as a class sees it; and,
after the first step (the default run), screenshot.png (the whole page) and denoising_side_by_side.gif (the run's
GIF, as the page's downloads make it).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import sync_playwright
from serve import chromium, served


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="assets")
    a = p.parse_args()
    out = Path(a.out)
    with served(7880) as (url, _, _), sync_playwright() as pw:
        browser = chromium(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 820}, locale="en-US")
        page.goto(url, wait_until="load")
        run = page.get_by_role("button", name="Run", exact=True)
        run.wait_for(timeout=60_000)

        def number(label: str, value: float) -> None:
            box = page.get_by_role("spinbutton", name=f"number input for {label}")
            box.fill(str(value))
            box.press("Enter")

        def run_and_wait() -> None:
            page.evaluate("() => window.scrollTo(0, 0)")
            run.click()
            page.wait_for_function("() => !document.body.textContent.includes('frames kept')", timeout=30_000)
            page.get_by_text("frames kept").first.wait_for(timeout=300_000)

        def shot(name: str) -> None:
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / f"class_{name}.png"))
            print(f"wrote {out / f'class_{name}.png'}", flush=True)

        run_and_wait()
        shot("1_noise")
        gif = page.locator("a[href*='.gif']").first  # the downloads, made after the run
        gif.wait_for(timeout=120_000)
        (out / "denoising_side_by_side.gif").write_bytes(page.request.get(urljoin(url, gif.get_attribute("href"))).body())
        page.screenshot(path=str(out / "screenshot.png"), full_page=True)
        print(f"wrote {out / 'denoising_side_by_side.gif'} and {out / 'screenshot.png'}", flush=True)
        number("extra-noise scale λ (multiplies s3·z)", 1.5)
        run_and_wait()
        shot("2_lambda")
        number("extra-noise scale λ (multiplies s3·z)", 1)
        run_and_wait()
        page.get_by_label("predicted x̂0").check()
        number("scrub through the run", 12)
        shot("3_x0")
        page.get_by_label("x_t").check()
        page.get_by_role("button", name="Forward process: noise them, t = 0 … 500").click()
        page.get_by_text("t = 500 · forward process of").first.wait_for(timeout=60_000)
        number("the forward process beside the run at t", 200)
        shot("4_forward")
        page.get_by_role("button", name="Race DDPM against DDIM from the same noise").click()
        page.get_by_text("both done").first.wait_for(timeout=300_000)
        shot("5_race")
        page.get_by_label("class", exact=True).click()
        page.get_by_role("option", name="hero", exact=True).click()
        run_and_wait()
        shot("6_guidance")
        page.goto(url + "?run=1&sprite=3&pixel=8,8&t=250", wait_until="load")  # step 7, by its link
        inside = page.locator("#inside")
        page.locator("#inside-text").get_by_text("the step from t = ").first.wait_for(timeout=300_000)
        inside.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        inside.screenshot(path=str(out / "class_7_inside.png"))
        print(f"wrote {out / 'class_7_inside.png'}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
