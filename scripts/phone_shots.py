"""The page on a phone: where Run, the stage and the status are, how large a sprite pixel is, and two screenshots.

    python scripts/phone_shots.py [--out docs]      (starts app.py on port 7881; about a minute)

390×844, touch, zh-CN, headless Chromium, the server computing (docs/performance.md, "On a phone"; the browser test
tests/test_browser.py checks the same three points). Writes phone_default.png and phone_done.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright
from serve import chromium, served


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs")
    a = p.parse_args()
    out = Path(a.out)
    with served(7881) as (url, _, _), sync_playwright() as pw:
        browser = chromium(pw)
        page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                   locale="zh-CN").new_page()
        page.goto(url + "?compute=server", wait_until="load")
        page.locator("#run").wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(out / "phone_default.png"))
        for name in ("#run", "#stage", "#status", ".controls"):
            box = page.locator(name).first.bounding_box()
            print(f"{name}: top at y {box['y']:.0f} of 844, {box['width']:.0f} × {box['height']:.0f} px")
        page.locator("#run").tap()
        page.get_by_text("保留了").first.wait_for(timeout=300_000)
        grid = page.locator("#stage img").first.bounding_box()
        print(f"the left arm's grid: {grid['width']:.0f} px across, {grid['width'] / (4 * 17 + 1):.1f} px a sprite pixel")
        page.screenshot(path=str(out / "phone_done.png"))
        print(f"wrote {out / 'phone_default.png'} and {out / 'phone_done.png'}")
        browser.close()


if __name__ == "__main__":
    main()
