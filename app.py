"""The classroom demo: a DDPM turning noise into 16×16 sprites, step by step, in the browser.

Layout and event wiring only; the run logic lives in the `demo` package.
"""
from __future__ import annotations

import sys

import gradio as gr

from demo import DDIM_STEPS, FORWARD_SOURCES, MAX_VIEWERS, PACES, RUN, T, CheckpointError
from demo.browser import (ACTION_AFTER_RUN, COPY_LINK, ON_LOAD, PAGE_CSS, RUN_IF_ASKED, STOP_IN_BROWSER, TOGGLE_CONTROLS, run_in_browser,
                          stage_on_load)
from demo.browser_run import page_url, served_files
from demo.components import unchecked
from demo.handlers import (compare, denoise, downloads, final_frame, first_schedule_image, forward, link, model, open_link,
                           noise_guess, picked, plan_run, race, random_seed, same, scrubber, show_frame, steps_for, inside_step)
from demo.launch import launch
from demo.i18n import page
from demo.settings import controls

I18N = page()  # the page's words, English and Chinese (demo/i18n.py)

# Both arms in one HTML element, each frame's grids inline as tiny PNG data URLs (16 px a sprite), which
# the browser scales up without blurring. Before the first run both halves are empty boxes, captioned in the
# viewer's language once the page has loaded; a run without the z = 0 arm (right: null) shows the left alone.
STAGE_HTML = """
<div class="stage">
  <figure><figcaption>${value?.captions?.[0] ?? 'with noise (DDPM)'}</figcaption>
    ${value?.left ? `<img src="${value.left}" alt="the sprites sampled with noise">` : '<div class="empty"></div>'}</figure>
  ${value?.right === null ? '' : `<figure><figcaption>${value?.captions?.[1] ?? 'without noise (z = 0)'}</figcaption>
    ${value?.right ? `<img src="${value.right}" alt="the same sprites sampled without noise">` : '<div class="empty"></div>'}</figure>`}
</div>
"""
STAGE_CSS = """
.stage { display: flex; gap: 12px; }
.stage figure { flex: 1; margin: 0; min-width: 0; }
.stage figcaption { font-size: var(--block-label-text-size); color: var(--block-label-text-color); margin-bottom: 4px; }
.stage img, .stage .empty { display: block; width: 100%; height: 360px; object-fit: contain; image-rendering: pixelated; }
.stage img { cursor: crosshair; }
.stage .empty { background: var(--block-background-fill); border: 1px dashed var(--border-color-primary); box-sizing: border-box; }
"""

try:
    CLASSES = model().classes  # load the weights at start, not at the first click
except (CheckpointError, ValueError) as e:
    sys.exit(f"cannot start the demo: {e}")
gr.set_static_paths(served_files(model().weights))  # the page's sampler, its runtime and the model it runs

with gr.Blocks(title="How a diffusion model samples", delete_cache=(600, 1800)) as demo:
    gr.Markdown(I18N("intro"), elem_classes="fold")
    # Every setting's control (demo/settings.py), each placed below where it goes. The autoguidance slider is offered
    # where a weak net ships beside the weights (weights/README.md says why its default is what it is).
    setting = controls(I18N, CLASSES, autoguidance={"info": I18N("autoguidance_info"), "visible": model().weak is not None})
    with gr.Row():
        with gr.Column(scale=1, min_width=280, elem_classes="controls"):
            for name in ("sampler", "steps", "seed", "n", "class_name", "guidance", "mix", "add_noise", "noise_scale", "side_by_side",
                         "autoguidance", "compute"):
                setting[name].render()
            link_btn = gr.Button(I18N("link"), size="sm")
            link_box = gr.Textbox(label=I18N("link_box"), buttons=["copy"])
        with gr.Column(scale=2):
            # What the projector view keeps: Run, Stop, the seed's dice, and the toggle that unfolds the rest.
            with gr.Row():
                run_btn = gr.Button(I18N("run"), variant="primary", elem_id="run")
                stop_btn = gr.Button(I18N("stop"), variant="stop")
                dice = gr.Button(I18N("dice"), min_width=60)
                present_toggle = gr.Button(I18N("present_toggle"), elem_id="present-toggle")
            setting["pace"].render()
            stage = gr.HTML(None, html_template=STAGE_HTML, css_template=STAGE_CSS, js_on_load=stage_on_load(page_url()), elem_id="stage")
            status = gr.Markdown(I18N("press_run"), elem_id="status")
            with gr.Row(elem_classes="fold"):
                setting["view"].render()
                setting["sprite"].render()
            scrub = gr.Slider(0, 1, value=0, step=1, label=I18N("scrub"), visible=False, elem_classes="fold")
            with gr.Row(elem_classes="fold"):
                source = gr.Radio([(I18N("last run"), FORWARD_SOURCES[0]), (I18N("seed_source"), FORWARD_SOURCES[1])],
                                  value=FORWARD_SOURCES[0], label=I18N("forward_source"))
                forward_btn = gr.Button(I18N("forward"), elem_id="forward")
            with gr.Row(elem_classes="fold"):
                race_ddpm = unchecked(gr.Slider(1, T, value=T, step=1, label=I18N("race_ddpm")))
                race_ddim = unchecked(gr.Slider(1, T, value=DDIM_STEPS, step=1, label=I18N("race_ddim")))
                race_btn = gr.Button(I18N("race"), elem_id="race")
            compare_t = gr.Slider(0, T, value=T, step=1, label=I18N("compare"), visible=False, elem_classes="fold")
            with gr.Accordion(I18N("guess"), open=False, elem_classes="fold", elem_id="guess") as guess_box:
                guess_text = gr.Markdown(elem_id="guess-text")
                guess_plot = gr.Image(format="png", show_label=False, interactive=False, buttons=["download"])
            # A picture, not gr.LinePlot: re-sending a plot's data each frame made the server's memory grow every run.
            # gr.Image shows an I18n label as "[object Object]": this one label is written in both languages.
            plot = gr.Image(first_schedule_image(), format="png", label="schedule · 噪声调度 (orange: the current t · 橙色：当前的 t)",
                            interactive=False, buttons=["download"], elem_classes="fold")
            with gr.Accordion(I18N("inside"), open=False, elem_classes="fold", elem_id="inside") as inside_box:
                setting["pixel"].render()
                inside_text = gr.Markdown(elem_id="inside-text")
                inside_plot = gr.Image(format="png", show_label=False, interactive=False, buttons=["download"])
            files = gr.File(label=I18N("files"), file_count="multiple", interactive=False, elem_classes="fold")
            with gr.Accordion(I18N("in_class"), open=False, elem_classes="fold"):
                gr.Markdown(I18N("in_class_steps"))
    frames = gr.State(None)
    forward_shown = gr.State(None)
    paced = gr.State(PACES[0])  # the pace, for the run: a State, so that the API's parameters stay as they were
    after = gr.State(None)  # where a link puts the scrub slider after its run (`t`), once
    # A run computed in the page (demo/web/page.js): its plan from the server, and its frames back (the page's own use).
    planned = gr.JSON(None, visible=False)
    browser_frames = gr.Textbox("", visible=False)

    # The run's settings in the public API's order (demo/settings.RUN: guidance, mix and autoguidance last, so that
    # API calls written before them still work); every control of the page in the handlers' order (settings.ON_PAGE).
    inputs = [setting[name] for name in RUN]
    on_page = list(setting.values())
    sampler, steps, seed, n, view, sprite, pace = (setting[name] for name in ("sampler", "steps", "seed", "n", "view", "sprite", "pace"))
    # Runs, the forward process and races all wait on the one batcher (demo/batcher.py), not on Gradio's queue.
    runs = dict(concurrency_limit=MAX_VIEWERS, concurrency_id="runs", show_progress="hidden")
    plan_event = run_btn.click(plan_run, [*inputs, paced, setting["compute"]], planned, api_visibility="private", show_progress="hidden")
    run_inputs = [*inputs, paced, planned, browser_frames]
    run_event = plan_event.success(denoise, run_inputs, [stage, status, plot, frames], js=run_in_browser(page_url(), len(run_inputs)),
                                   api_name="denoise", **runs)
    pace.change(same, pace, paced, api_visibility="private")
    # Inside one step (demo/inside.py): the chosen pixel's arithmetic at the scrubbed t, after a run, a scrub, a click
    # on the stage (which chooses the sprite and the pixel under it) or a pixel typed in.
    inside = dict(fn=inside_step, inputs=[frames, scrub, *on_page], outputs=[inside_text, inside_plot, inside_box],
                  api_visibility="private", show_progress="hidden")
    run_event.success(scrubber, [frames, after, view, sprite], [scrub, stage, status, plot, after], api_visibility="private",
                      show_progress="hidden").then(**inside).then(None, js=ACTION_AFTER_RUN)
    # The files after the run, one encoding at a time: no run, and no other viewer's, waits for them.
    run_event.success(downloads, [frames, view, sprite], files, api_visibility="private", concurrency_limit=1, concurrency_id="downloads")
    stop_btn.click(None, js=STOP_IN_BROWSER, cancels=[plan_event, run_event])
    forward_event = forward_btn.click(forward, [seed, n, source, view, sprite, frames], [stage, status, plot, forward_shown, compare_t],
                                      api_name="forward", **runs)
    # The network's guess of the noise of the forward process's sprite, at the compare slider's t (lesson 2).
    guessing = dict(fn=noise_guess, inputs=[forward_shown, compare_t, sprite, seed], outputs=[guess_text, guess_plot, guess_box],
                    api_visibility="private", show_progress="hidden")
    forward_event.success(**guessing)
    race_event = race_btn.click(race, [seed, n, race_ddpm, race_ddim, view, sprite], [stage, status], api_name="race", **runs)
    stop_btn.click(None, cancels=[forward_event, race_event])
    compare_t.input(compare, [compare_t, forward_shown, frames, view, sprite], [stage, status, plot], api_visibility="private").then(
        **guessing)
    dice.click(random_seed, outputs=seed, api_visibility="private")
    sampler.input(steps_for, sampler, steps, api_visibility="private")  # the user's choice only: a link's steps win
    for trigger in (scrub.input, view.input, sprite.input):  # the user's moves only
        trigger(show_frame, [frames, scrub, view, sprite], [stage, status, plot], api_visibility="private").then(**inside)
    stage.click(picked, [frames, sprite], [sprite, setting["pixel"]], api_visibility="private").success(
        show_frame, [frames, scrub, view, sprite], [stage, status, plot], api_visibility="private").then(**inside)
    setting["pixel"].submit(**inside)
    # Every setting in the address (demo/link.py): set on load, and a link to the settings on demand.
    demo.load(open_link, None, [*on_page, status, after, stage], js=ON_LOAD, api_visibility="private").then(None, js=RUN_IF_ASKED)
    link_btn.click(link, on_page, link_box, api_visibility="private").then(None, link_box, link_box, js=COPY_LINK)
    present_toggle.click(None, js=TOGGLE_CONTROLS)
    gr.Examples(
        [["DDPM", 500, 0, 16, "any", True, 1.0, True], ["DDIM", 25, 1, 16, "any", True, 1.0, True],
         ["DDPM", 500, 2, 16, "hero", True, 1.0, True]],
        inputs[:8], [stage, status], fn=final_frame, cache_examples=True, cache_mode="lazy", label=I18N("examples"),
        # Labels, not a table: the table's headers would show the I18n labels' raw metadata (Gradio 6.31).
        example_labels=["DDPM · 500 · seed 0 种子", "DDIM · 25 · seed 1 种子", "DDPM · 500 · seed 2 种子 · hero 英雄"],
    )

if __name__ == "__main__":
    # Past MAX_VIEWERS watching and as many waiting, a new request is refused with Gradio's "queue is full" message.
    launch(demo.queue(default_concurrency_limit=4, max_size=MAX_VIEWERS), show_error=True, i18n=I18N, max_threads=MAX_VIEWERS + 16,
           css=PAGE_CSS)  # cross-origin isolated: WASM threads for the page's sampler
