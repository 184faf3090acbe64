"""A real browser: Debian's Chromium, headless, driven by playwright (no `playwright install`)."""
import base64
import contextlib
import math
import shutil
import time

import imageio.v3 as iio
import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser
if not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def demo_page(server, steps, locale="en-US", run="Run", steps_label="denoising steps"):
    """The demo in a fresh headless Chromium of `locale`, loaded and set to `steps` denoising steps."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale=locale)
        page.goto(server, wait_until="load")
        page.get_by_role("button", name=run, exact=True).wait_for(timeout=30_000)
        box = page.get_by_role("spinbutton", name=f"number input for {steps_label}")
        box.fill(str(steps))
        box.press("Enter")
        yield page
        browser.close()


def test_page_runs_and_streams(server, tmp_path):
    with demo_page(server, 100) as page:
        steps = page.get_by_role("spinbutton", name="number input for denoising steps")
        page.get_by_role("button", name="Run", exact=True).click()
        left = page.locator("#stage img").first
        left.wait_for(timeout=30_000)
        seen = set()
        deadline = time.time() + 60
        while time.time() < deadline and not page.get_by_text("done").count():
            src = left.get_attribute("src")
            if src:
                seen.add(src)
            time.sleep(0.05)
        page.get_by_text("done").first.wait_for(timeout=30_000)
        assert len(seen) >= 3, "the image did not change while streaming"
        rendering = left.evaluate("el => getComputedStyle(el).imageRendering")
        assert rendering in ("pixelated", "crisp-edges")
        page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)

        # Scrub back to the first frame without recomputing: both arms show the same x_T again.
        page.get_by_text("frames kept").first.wait_for(timeout=30_000)
        scrub = page.get_by_role("spinbutton", name="number input for scrub through the run")
        scrub.fill("0")
        scrub.press("Enter")
        page.get_by_text("pure noise").first.wait_for(timeout=10_000)

        # The run's files arrive after it (their own event), and each can be fetched.
        for name in ("denoising.gif", "denoising.mp4", "final.png"):
            link = page.locator(f'a[href$="/{name}"]').first  # the link's text is the file's size
            link.wait_for(timeout=60_000)
            assert page.request.get(link.get_attribute("href")).ok, name

        # Stop freezes a long run: the status no longer moves.
        steps.fill("500")
        steps.press("Enter")
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("steps/s").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Stop", exact=True).click()
        time.sleep(1.5)
        status = page.get_by_text("t = ").last
        frozen = status.inner_text()
        time.sleep(2)
        assert status.inner_text() == frozen and "done" not in frozen
    assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_the_stage_shows_one_arm_without_the_side_by_side(server):
    with demo_page(server, 10) as page:
        assert page.locator("#stage figure").count() == 2 and page.locator("#stage img").count() == 0  # empty boxes
        page.get_by_label("side by side with z = 0 (DDPM)").uncheck()
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("frames kept").first.wait_for(timeout=60_000)
        assert page.locator("#stage figure").count() == 1 and page.locator("#stage img").count() == 1


def test_a_chinese_browser_reads_the_demo_in_chinese(server):
    with demo_page(server, 5, locale="zh-CN", run="运行", steps_label="去噪步数（更少 = 重新间隔的时间步长）") as page:
        assert page.get_by_text("扩散模型如何采样").count() == 1 and page.get_by_role("button", name="Run", exact=True).count() == 0
        page.get_by_role("button", name="运行", exact=True).click()
        page.get_by_text("保留了").first.wait_for(timeout=60_000)  # the status line, written by Python, in Chinese
        assert "第 5/5 步" in page.locator("body").inner_text()


def test_an_english_browser_reads_it_in_english_and_streams_the_forward_process_and_the_race(server):
    with demo_page(server, 5) as page:
        assert page.get_by_text("How a diffusion model samples").count() >= 1
        page.get_by_role("button", name="Forward process: noise them, t = 0 … 500").click()
        page.get_by_text("forward process of").first.wait_for(timeout=60_000)
        page.get_by_text("t = 500 · forward process of").first.wait_for(timeout=60_000)
        assert page.locator("#stage img").count() == 1  # no run yet: the forward process alone
        page.get_by_role("spinbutton", name="number input for race: DDPM steps").fill("20")
        page.get_by_role("spinbutton", name="number input for race: DDPM steps").press("Enter")
        page.get_by_role("button", name="Race DDPM against DDIM from the same noise").click()
        page.get_by_text("both done").first.wait_for(timeout=60_000)
        captions = page.locator("#stage figcaption").all_inner_texts()
        assert captions[0].startswith("DDPM, 20 steps:") and captions[1].startswith("DDIM, 25 steps:")


@contextlib.contextmanager
def opened(address, locale="en-US"):
    """A fresh headless Chromium of `locale` at `address`, the page's settings from the link applied."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale=locale)
        page.goto(address, wait_until="load")
        page.locator("#run").wait_for(timeout=30_000)
        yield page
        browser.close()


def number(page, label):
    return page.get_by_role("spinbutton", name=f"number input for {label}")


def test_a_link_sets_every_control_it_names_the_language_and_runs(server):
    zh_steps, zh_seed, zh_lambda = "去噪步数（更少 = 重新间隔的时间步长）", "随机种子", "额外噪声的缩放因子 λ（乘以 s3·z）"
    with opened(server + "?sampler=DDIM&steps=30&seed=7&lambda=0.5&lang=zh&run=1") as page:  # an English browser
        page.get_by_text("保留了").first.wait_for(timeout=90_000)  # the run ends, its status line written in Chinese
        status = page.locator("#status").inner_text()
        assert "第 30/30 步" in status and "完成" in status
        for label, value in ((zh_steps, "30"), (zh_seed, "7"), (zh_lambda, "0.5")):  # steps: the link's 30, not DDIM's 25
            playwright.expect(number(page, label)).to_have_value(value)
        assert page.get_by_role("radio", name="DDIM").is_checked()


def test_a_links_bad_field_is_named_and_the_rest_applies(server):
    with opened(server + "?steps=abc&seed=3") as page:
        page.get_by_text("steps=abc").first.wait_for(timeout=30_000)
        assert "got 'abc'" in page.locator("#status").inner_text()
        playwright.expect(number(page, "seed")).to_have_value("3")
        playwright.expect(number(page, "denoising steps")).to_have_value("500")
        number(page, "denoising steps").fill("5")
        number(page, "denoising steps").press("Enter")
        page.locator("#run").click()
        page.get_by_text("frames kept").first.wait_for(timeout=60_000)


def test_the_link_button_gives_an_address_that_sets_the_same(server):
    settings = "?sampler=DDPM&steps=12&seed=42&sprites=9&class=hero&w=2.5&lambda=1.5&noise=0&side=0&view=eps&sprite=3"
    with opened(server + settings) as page:
        playwright.expect(number(page, "seed")).to_have_value("42", timeout=90_000)  # the link's settings are in: then the button
        page.get_by_role("button", name="Link to this").click()
        address = page.wait_for_function(
            "() => [...document.querySelectorAll('textarea')].map(t => t.value).find(v => v.startsWith('http'))", timeout=90_000
        ).json_value()
        values = {label: number(page, label).input_value() for label in ("denoising steps", "seed", "sprites")}
    assert address.startswith(server)
    with opened(address) as again:
        for label, value in values.items():  # the load's settings arrive after the page
            playwright.expect(number(again, label)).to_have_value(value, timeout=90_000)
        assert values == {"denoising steps": "12", "seed": "42", "sprites": "9"}
        playwright.expect(again.get_by_label("predicted noise ε̂")).to_be_checked(timeout=90_000)
        assert not again.get_by_label("add noise back (s3·z)").is_checked()


def test_the_projector_view_keeps_the_stage_and_folds_the_rest(server):
    with opened(server + "?present=1&seed=3&steps=5&run=1") as page:
        page.get_by_text("frames kept").first.wait_for(timeout=60_000)
        assert float(page.locator("#status").evaluate("el => getComputedStyle(el).fontSize").removesuffix("px")) >= 24
        scale = number(page, "extra-noise scale λ (multiplies s3·z)")
        assert not scale.is_visible()  # folded away
        for name in ("Run", "Stop", "random seed"):
            assert page.get_by_role("button", name=name, exact=True).is_visible()
        page.locator("#present-toggle").click()
        scale.wait_for(state="visible", timeout=10_000)


def test_a_paced_run_plays_over_its_length(server):
    with opened(server + "?steps=20&seed=11&pace=10") as page:
        playwright.expect(page.get_by_role("radio", name="over 10 s")).to_be_checked(timeout=30_000)
        start = time.monotonic()
        page.locator("#run").click()
        page.get_by_text("frames kept").first.wait_for(timeout=60_000)
        assert time.monotonic() - start >= 9.5  # 20 steps, computed in well under a second, shown over 10 s


def sprites_of(url: str, n: int) -> np.ndarray:
    """The n 16×16 sprites of a stage grid (a PNG data URL, 1 px gaps), as float (n, 16, 16, 3) in 0 … 255."""
    grid = iio.imread(base64.b64decode(url.split(",", 1)[1]), extension=".png")[..., :3].astype(float)
    ncol = math.ceil(math.sqrt(n))
    return np.stack([grid[1 + r * 17:17 + r * 17, 1 + c * 17:17 + c * 17] for r, c in (divmod(i, ncol) for i in range(n))])


def test_a_run_in_the_browser_draws_the_servers_sprites_and_stops(tmp_path):
    """?compute=browser: the page computes the run, says so, and its sprites are the server's (fp32) within the bounds of
    docs/performance.md, at the default ω (autoguided by the weak net's ONNX) and at ag=1 (the net alone); Stop ends it."""
    gradio_client = pytest.importorskip("gradio_client")
    from conftest import launched

    def computed_in_browser(page) -> list[np.ndarray]:
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("frames kept").first.wait_for(timeout=120_000)
        assert "in this browser (WASM" in page.locator("#status").inner_text()
        return [sprites_of(img.get_attribute("src"), 16) for img in page.locator("#stage img").all()]

    from ddpm.guidance import DEFAULT_AUTOGUIDANCE

    with launched(tmp_path, {"DDPM_PRECISION": "fp32"}) as (url, _):
        with demo_page(url + "?compute=browser", 20) as page:
            guided = computed_in_browser(page)
            assert f"autoguided, ω = {DEFAULT_AUTOGUIDANCE:g}" in page.locator("#status").inner_text()

            # Stop ends a long run within a step: it ends short of its 500 steps and says so.
            steps = page.get_by_role("spinbutton", name="number input for denoising steps")
            steps.fill("500")
            steps.press("Enter")
            page.get_by_role("button", name="Run", exact=True).click()
            page.get_by_text("/500 · ").first.wait_for(timeout=60_000)  # the long run's own status, computing
            page.get_by_role("button", name="Stop", exact=True).click()
            page.get_by_text("stopped").first.wait_for(timeout=30_000)
            assert "500/500" not in page.locator("#status").inner_text()
        with demo_page(url + "?compute=browser&ag=1", 20) as page:
            ours = computed_in_browser(page)
            assert "autoguided" not in page.locator("#status").inner_text()
        client = gradio_client.Client(url, verbose=False)
        args = ("DDPM", 20, 0, 16, "any", True, 1.0, True, "x_t", "all")
        stages = [[out[0] for out in client.submit(*args, *extra, api_name="/denoise") if "left" in out[0]][-1]  # the last
                  for extra in ((4.0, "", 1.0), ())]                                                         # frame's
    for browser, stage in ((ours, stages[0]), (guided, stages[1])):
        for mine, server in zip(browser, (sprites_of(stage[arm], 16) for arm in ("left", "right"))):
            rms = np.sqrt(((mine - server) ** 2).mean(axis=(1, 2, 3)))  # per sprite, in 1/255 units
            assert np.median(rms) <= 2 and rms.max() <= 8, rms.round(2)
    assert np.abs(guided[0] - ours[0]).mean() > 4  # the default ω changed the sprites: the weak net was used


def test_auto_computes_where_the_run_finishes_sooner_and_says_why(tmp_path):
    """Issue 34: a lone visitor's default page runs on the idle server (several times faster than WASM here); with 8
    distinct server runs in flight, the page computes in the browser. Either way the status line says why."""
    gradio_client = pytest.importorskip("gradio_client")
    from conftest import launched

    with launched(tmp_path) as (url, _):
        with opened(url + "?steps=100") as page:  # the default run, shorter: the choice scales with both estimates
            page.locator("#run").click()
            page.get_by_text("frames kept").first.wait_for(timeout=120_000)
            status = page.locator("#status").inner_text()  # the first run: no wait for this browser's measurement
            assert "on the server" in status and "the server was free (about" in status, status
            page.locator("#run").click()  # the second: measured by now, and weighed
            playwright.expect(page.locator("#status")).to_contain_text("the server was sooner (free now", timeout=120_000)
            client = gradio_client.Client(url, verbose=False)
            jobs = [client.submit("DDPM", 500, seed, 16, "any", True, 1.0, True, api_name="/denoise") for seed in range(1, 9)]
            deadline = time.monotonic() + 60
            while not all(job.status().code.name in ("PROCESSING", "ITERATING") for job in jobs):  # all 8 in flight
                assert time.monotonic() < deadline, [job.status().code.name for job in jobs]
                time.sleep(0.1)
            page.locator("#run").click()
            playwright.expect(page.locator("#status")).to_contain_text("in this browser (WASM", timeout=120_000)
            status = page.locator("#status").inner_text()
            assert "this browser was about as soon" in status and "8 runs ahead" in status, status
        # The server's runs end with it (launched stops the app).


def test_on_a_phone_run_the_stage_and_the_status_come_before_the_controls(server):
    """Issue 34: 390×844, a touch screen, zh-CN. Run can be tapped; the stage and its status line come before the
    controls, so nobody scrolls past them; a sprite pixel is at least 4 screen pixels."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                   locale="zh-CN").new_page()
        page.goto(server + "?steps=20&compute=server", wait_until="load")
        run = page.locator("#run")
        run.wait_for(timeout=30_000)
        assert run.bounding_box()["y"] + run.bounding_box()["height"] <= 844  # on the first screen
        run.tap()
        page.get_by_text("保留了").first.wait_for(timeout=60_000)
        stage, status = page.locator("#stage").bounding_box(), page.locator("#status").bounding_box()
        controls = page.locator(".controls").first.bounding_box()
        assert stage["y"] < status["y"] < controls["y"]
        grid = page.locator("#stage img").first.bounding_box()
        assert grid["width"] / (4 * 17 + 1) >= 4  # 16 sprites: 4 columns of 16 px and a 1 px gap
        browser.close()


@pytest.mark.parametrize("locale, compute, words", [
    ("en-US", "server", ("with noise (DDPM), sprite 3, pixel (", "red: x_{t−1} = s1·(x_t − s2·ε̂) + s3·z = ")),
    ("zh-CN", "browser", ("加回噪声（DDPM），精灵图 3，像素 (", "红：x_{t−1} = s1·(x_t − s2·ε̂) + s3·z = "))])
def test_a_click_on_a_pixel_after_a_run_shows_its_step_with_the_numbers(server, locale, compute, words):
    """Issue 35: after a run, computed on the server or in the browser, a click on a pixel of the sprite shown opens
    Inside one step with that pixel's arithmetic, for each arm and channel, in the page's language."""
    with opened(server + f"?run=1&steps=20&sprite=3&compute={compute}", locale) as page:
        page.get_by_text("20/20").first.wait_for(timeout=120_000)
        playwright.expect(page.locator("#status")).to_contain_text("保留了" if locale == "zh-CN" else "frames kept", timeout=60_000)
        img = page.locator("#stage img").first
        box = img.bounding_box()
        side = min(box["width"], box["height"])  # one sprite, drawn square in the middle
        left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
        page.mouse.click(left + side * 5.5 / 16, top + side * 9.5 / 16)  # pixel (5, 9)
        panel = page.locator("#inside-text")
        playwright.expect(panel).to_contain_text(words[0] + "5, 9)", timeout=30_000)
        text = panel.inner_text()
        assert words[1] in text and text.count("x̂0 = (x_t − √(1 − ᾱ_t)·ε̂)/√ᾱ_t") == 6, text


@pytest.mark.parametrize("locale, words", [("en-US", "This example's training loss, the mean of (ε − ε̂)² over the sprite: "),
                                           ("zh-CN", "这个样本的训练损失，即 (ε − ε̂)² 在整个精灵图上的平均：")])
def test_the_forward_process_shows_the_networks_guess_and_its_loss(server, locale, words):
    """Issue 35, part 2: beside the forward process, the network's guess of the noise and the loss, at the slider's t."""
    with opened(server + "?run=1&steps=20&action=forward&compute=server", locale) as page:
        panel = page.locator("#guess-text")
        playwright.expect(panel).to_contain_text(words, timeout=90_000)
        assert "t = 500" in panel.inner_text()
        slider = page.locator("#guess").locator("xpath=preceding::input[@type='number'][1]")
        slider.fill("40")
        slider.press("Enter")
        playwright.expect(panel).to_contain_text("t = 40", timeout=30_000)
        assert page.locator("#guess img").first.is_visible()
