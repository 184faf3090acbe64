"""The classroom demo: a DDPM turning noise into 16×16 sprites, step by step, in the browser.

Layout and event wiring only; the sampling lives in the `ddpm` package.
"""
from __future__ import annotations

import os
import random
import sys
import tempfile

import gradio as gr

from ddpm import CLASSES, CheckpointError, Schedule, load_model
from ddpm.checkpoint import SMALL_WEIGHTS
from ddpm.fast import FastModel
from ddpm.guidance import DEFAULT_GUIDANCE, MIXED
from ddpm.images import png_data_url
from ddpm.schedule_plot import schedule_image
from ddpm.stream import (ANY_CLASS, MAX_GUIDANCE, MAX_SEED, MAX_SPRITES, VIEWS, Frame, frame_image, on_sampler_thread, parse_request,
                         run, save_run)

# Both arms in one HTML element, each frame's grids inline as tiny PNG data URLs (16 px a sprite), which
# the browser scales up without blurring. As two gr.Image outputs each frame cost two PNG files in
# Gradio's cache and two requests from the page, and that CPU came out of the sampler's two cores.
# Before the first run both halves are empty boxes; a run without the z = 0 arm shows the left alone.
STAGE_HTML = """
<div class="stage">
  <figure><figcaption>with noise (DDPM)</figcaption>
    ${value?.left ? `<img src="${value.left}" alt="the sprites sampled with noise">` : '<div class="empty"></div>'}</figure>
  ${value && !value.right ? '' : `<figure><figcaption>without noise (z = 0)</figcaption>
    ${value?.right ? `<img src="${value.right}" alt="the same sprites sampled without noise">` : '<div class="empty"></div>'}</figure>`}
</div>
"""
STAGE_CSS = """
.stage { display: flex; gap: 12px; }
.stage figure { flex: 1; margin: 0; min-width: 0; }
.stage figcaption { font-size: var(--block-label-text-size); color: var(--block-label-text-color); margin-bottom: 4px; }
.stage img, .stage .empty { display: block; width: 100%; height: 360px; object-fit: contain; image-rendering: pixelated; }
.stage .empty { background: var(--block-background-fill); border: 1px dashed var(--border-color-primary); box-sizing: border-box; }
"""
PLOT_EVERY = 0.5  # seconds between updates of the schedule plot's marker
# Frames a second sent to the browser, at most. Every frame costs the server and the browser CPU that the
# sampler's two threads want (README, "Speed"). 4 a second shows a 500-step run as about 35 frames, more
# than the course's animation (a frame every 20 steps: 26).
FPS = float(os.environ.get("DDPM_FPS", 4))


def _sprite_index(sprite: str) -> int | None:
    return None if sprite in (None, "", "all") else int(sprite) - 1


def _render(frame: Frame, view: str, sprite: str) -> dict:
    """The stage's value: each arm's chosen view as a PNG data URL (right: None without the z = 0 arm)."""
    v, s = VIEWS.index(view) if view in VIEWS else 0, _sprite_index(sprite)
    arms = [png_data_url(frame_image(frame, arm, v, s)) for arm in range(len(frame.arms))]
    return {"left": arms[0], "right": arms[1] if len(arms) > 1 else None}


def denoise(sampler: str, steps: int, seed: int, n: int, class_name: str, add_noise: bool, noise_scale: float,
            side_by_side: bool, view: str = VIEWS[0], sprite: str = "all", guidance: float = DEFAULT_GUIDANCE):
    """Stream a run: both arms, status line and schedule marker per frame; then scrubbing and downloads."""
    try:
        req = parse_request(sampler, steps, seed, n, class_name, add_noise, noise_scale, side_by_side, guidance)
        if view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
        if sprite not in ("all", *map(str, range(1, MAX_SPRITES + 1))):
            raise ValueError(f"sprite must be 'all' or 1 to {MAX_SPRITES}, got {sprite!r}")
    except ValueError as e:
        raise gr.Error(str(e)) from None
    frames: list[Frame] = []
    plotted = -PLOT_EVERY
    for frame in run(MODEL, req, fps=FPS):
        frames.append(frame)
        plot = gr.skip()
        if frame.elapsed - plotted >= PLOT_EVERY or frame.done == frame.total:
            plot, plotted = schedule_image(frame.t), frame.elapsed
        yield _render(frame, view, sprite), frame.status, plot, gr.skip(), gr.skip(), gr.skip()
    scrub = gr.Slider(minimum=0, maximum=len(frames) - 1, value=len(frames) - 1, step=1, visible=True, interactive=True)
    # Gradio copies the files into its own cache (cleaned by delete_cache), so ours can go at once.
    with tempfile.TemporaryDirectory(prefix="ddpm-run-") as folder:
        files = [str(p) for p in save_run(frames, VIEWS.index(view), folder)]
        yield gr.skip(), frames[-1].status + f" · {len(frames)} frames shown · {MODEL.path}", gr.skip(), scrub, frames, files


def show_frame(frames: list[Frame] | None, index: int, view: str, sprite: str):
    """Show a stored frame of the last run (scrubbing), without recomputing anything."""
    if not frames:
        return gr.skip(), gr.skip(), gr.skip()
    frame = frames[max(0, min(int(index), len(frames) - 1))]
    return _render(frame, view, sprite), frame.status, schedule_image(frame.t)


def build() -> gr.Blocks:
    """The Blocks layout and its events."""
    with gr.Blocks(title="How a diffusion model samples", delete_cache=(600, 1800)) as demo:
        gr.Markdown(
            "# How a diffusion model samples\n"
            "A U-Net predicts the noise ε̂ in a noisy sprite; each step removes it and **adds back a little fresh noise**: "
            "x<sub>t−1</sub> = s1·(x<sub>t</sub> − s2·ε̂) + s3·z, for t = 500 … 1 (DDPM; *How Diffusion Models Work*, lesson 1). "
            "On the right the same start without the fresh noise (z = 0): watch it collapse into blobs."
        )
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                sampler = gr.Radio(["DDPM", "DDIM"], value="DDPM", label="sampler")
                steps = gr.Slider(1, Schedule.T, value=Schedule.T, step=1, label="denoising steps (fewer = respaced)")
                with gr.Row():
                    seed = gr.Slider(0, MAX_SEED, value=0, step=1, label="seed", scale=4)
                    dice = gr.Button("random seed", scale=1, min_width=60)
                n = gr.Slider(1, MAX_SPRITES, value=16, step=1, label="sprites")
                class_name = gr.Dropdown([(f"{ANY_CLASS} (unconditional)", ANY_CLASS), (f"{MIXED} (each class in turn)", MIXED), *CLASSES],
                                         value=ANY_CLASS, label="class")
                guidance = gr.Slider(0, MAX_GUIDANCE, value=DEFAULT_GUIDANCE, step=0.5,
                                     label="class guidance w (classifier-free; with a class only, twice the work)")
                add_noise = gr.Checkbox(value=True, label="add noise back (s3·z)")
                noise_scale = gr.Slider(0, 2, value=1, step=0.05, label="extra-noise scale λ (multiplies s3·z)")
                side_by_side = gr.Checkbox(value=True, label="side by side with z = 0 (DDPM)")
                with gr.Row():
                    run_btn = gr.Button("Run", variant="primary")
                    stop_btn = gr.Button("Stop", variant="stop")
            with gr.Column(scale=2):
                stage = gr.HTML(None, html_template=STAGE_HTML, css_template=STAGE_CSS, js_on_load=None, elem_id="stage")
                status = gr.Markdown("Press **Run**.")
                with gr.Row():
                    view = gr.Radio(list(VIEWS), value=VIEWS[0], label="show")
                    sprite = gr.Dropdown(["all", *map(str, range(1, MAX_SPRITES + 1))], value="all", label="sprite")
                scrub = gr.Slider(0, 1, value=0, step=1, label="scrub through the run", visible=False)
                # A picture, not gr.LinePlot: re-sending a plot's data each frame made the server grow ~1 MB a run.
                # Drawn first on the sampling thread, which alone does torch work (ddpm/stream.py); later frames reuse it.
                plot = gr.Image(on_sampler_thread(lambda: schedule_image(None)), format="png", label="schedule (the orange line is the current t)",
                                interactive=False, buttons=["download"])
                files = gr.File(label="downloads: GIF, MP4, final grid", file_count="multiple", interactive=False)
        frames = gr.State(None)

        # guidance last, so that API calls written before it existed still work (it has a default).
        inputs = [sampler, steps, seed, n, class_name, add_noise, noise_scale, side_by_side, view, sprite, guidance]
        outputs = [stage, status, plot, scrub, frames, files]
        run_event = run_btn.click(denoise, inputs, outputs, api_name="denoise", show_progress="hidden")
        stop_btn.click(None, cancels=[run_event])
        dice.click(lambda: random.randint(0, MAX_SEED), outputs=seed, api_visibility="private")
        sampler.change(lambda s: 25 if s == "DDIM" else Schedule.T, sampler, steps, api_visibility="private")
        for trigger in (scrub.input, view.input, sprite.input):  # the user's moves only
            trigger(show_frame, [frames, scrub, view, sprite], [stage, status, plot], api_visibility="private")
        gr.Examples(
            [["DDPM", 500, 0, 16, ANY_CLASS, True, 1.0, True], ["DDIM", 25, 1, 16, ANY_CLASS, True, 1.0, True],
             ["DDPM", 500, 2, 16, "hero", True, 1.0, True]],
            inputs[:8], [stage, status], fn=final_frame, cache_examples=True, cache_mode="lazy",
        )
    return demo


def final_frame(*args) -> tuple:
    """The last frame of a run, for the cached examples."""
    last = None
    for last in run(MODEL, parse_request(*args)):
        pass
    return _render(last, VIEWS[0], "all"), last.status


def load() -> FastModel:
    """The model (DDPM_WEIGHTS, else the small shipped one) with its fast path; exits saying what to run if it is missing or bad.

    Loaded on the sampling thread: torch work on a second live thread slows sampling 1.5× (ddpm/stream.py)."""
    try:
        # DDPM_COMPILE=0 skips the background compile (tests; machines where it fails).
        return on_sampler_thread(lambda: FastModel(load_model(os.environ.get("DDPM_WEIGHTS", SMALL_WEIGHTS), device="cpu"),
                                                   compile=os.environ.get("DDPM_COMPILE", "1") != "0"))
    except CheckpointError as e:
        sys.exit(f"cannot start the demo: {e}")


MODEL = load()
demo = build()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1, max_size=32).launch()
