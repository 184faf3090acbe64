"""How far the page's own sampler's sprites are from the server's, per sprite (information only).

    DDPM_PRECISION=fp32 python app.py &   # the server in fp32, as the comparison asks
    python scripts/browser_vs_server.py http://127.0.0.1:7860/ --steps 500 --seed 0

Runs the same request in headless Chromium (`?compute=browser`) and through the API (`/denoise`, on the server), and
prints the RMS difference of each final sprite in 1/255 units, both arms: median and worst.
"""
from __future__ import annotations

import argparse
import base64
import math

import gradio_client
import imageio.v3 as iio
import numpy as np
from browser_timing import QUIET
from serve import chromium
from playwright.sync_api import sync_playwright


def sprites_of(url: str, n: int) -> np.ndarray:
    grid = iio.imread(base64.b64decode(url.split(",", 1)[1]), extension=".png")[..., :3].astype(float)
    ncol = math.ceil(math.sqrt(n))
    return np.stack([grid[1 + r * 17:17 + r * 17, 1 + c * 17:17 + c * 17] for r, c in (divmod(i, ncol) for i in range(n))])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--sampler", default="DDPM", choices=["DDPM", "DDIM"])
    p.add_argument("--class-name", default="any", help="any, mixed, or a class")
    p.add_argument("--guidance", type=float, default=4.0)
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = chromium(pw, *QUIET)
        page = browser.new_page()
        page.goto(f"{a.url}?compute=browser&sampler={a.sampler}&steps={a.steps}&seed={a.seed}&sprites={a.n}"
                  f"&class={a.class_name}&w={a.guidance:g}&run=1")
        page.get_by_text("frames kept").first.wait_for(timeout=600_000)
        print("browser:", page.locator("#status").inner_text())
        ours = [sprites_of(img.get_attribute("src"), a.n) for img in page.locator("#stage img").all()]
        browser.close()
    job = gradio_client.Client(a.url, verbose=False).submit(a.sampler, a.steps, a.seed, a.n, a.class_name, True, 1.0, True, "x_t",
                                                            "all", a.guidance, "hero 1, food 0.6", api_name="/denoise")
    outs = list(job)
    print("server: ", outs[-1][1])
    stage = [o[0] for o in outs if "left" in o[0]][-1]
    theirs = [sprites_of(stage[arm], a.n) for arm in ("left", "right") if stage.get(arm)]
    for name, mine, server in zip(("with noise", "z = 0"), ours, theirs):
        rms = np.sqrt(((mine - server) ** 2).mean(axis=(1, 2, 3)))
        print(f"{name}: RMS per sprite (1/255) median {np.median(rms):.2f}, worst {rms.max():.2f}; all {np.round(rms, 2).tolist()}")


if __name__ == "__main__":
    main()
