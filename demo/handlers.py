"""The demo's event handlers: thin functions between Gradio's events and the run (demo/serving.py)."""
from __future__ import annotations

import functools
import math
import os
import random
import tempfile
import time

import gradio as gr

from ddpm import Schedule
from ddpm.checkpoint import weak_path
from ddpm.sampler import default_steps

from .browser_run import CHOSE, FALLBACK, chosen_server, plan, read_frames, self_check, where
from .export import render, save_journey, save_run
from .forward import forward_frames
from .frames import Frame
from .i18n import error, language, line
from .link import read_link, write_link
from .request import FORWARD_SOURCES, REQUEST, parse_request, parse_source, parse_view
from .runner import kept_steps
from .serving import FPS, DemoModel, join_race, join_run, load_demo_model, on_sampler_thread, server, server_estimate
from .schedule_plot import schedule_png
from .inside import arms_of, clicked, guess_picture, guessed, matches, panel, picture, same_noise, walk_alone
from .settings import ALL_SPRITES, COMPUTE, DEFAULTS, MAX_SEED, ON_PAGE, RUN, VIEWS, by_name, pixel_of

PLOT_EVERY = 0.5  # seconds between updates of the schedule plot's marker
# Updates a second the server sends to all viewers together: each costs the server CPU that the batcher wants,
# so many viewers get fewer frames each (docs/performance.md, "A classroom at once").
UPDATES_PER_S = float(os.environ.get("DDPM_UPDATES_PER_S", 12))


def gap() -> float:
    """Seconds between one viewer's frames: 1/FPS alone, longer when many watch at once."""
    return max(1 / FPS, server().watching() / UPDATES_PER_S)


@functools.cache
def model() -> DemoModel:
    """The served model, loaded once (DDPM_WEIGHTS, DDPM_OPENVINO: see demo/serving.py)."""
    return load_demo_model()


def first_schedule_image():
    """The schedule picture before any run, drawn on the sampling thread (the only one that does torch work)."""
    return on_sampler_thread(lambda: schedule_png(None))


def nearest(frames: list[Frame], t: int) -> Frame:
    """The stored frame of a run whose timestep is closest to t."""
    return min(frames, key=lambda f: abs(f.t - t))


def forward(seed: float = DEFAULTS["seed"], n: float = DEFAULTS["n"], source: str = FORWARD_SOURCES[0], view: str = VIEWS[0],
            sprite: str = ALL_SPRITES, frames: list[Frame] | None = None, request: gr.Request = None):
    """Stream the forward process q(x_t | x0), t = 0 … 500, of the last run's final sprites or of a seed's, beside the run at the same t."""
    lang = language(request)
    try:
        req = parse_request(sampler="DDIM", seed=seed, n=n, class_name=None, classes=model().classes)
        v, s = parse_view(view, sprite)
        parse_source(source)
    except ValueError as e:
        raise gr.Error(error(lang, e)) from None
    if source == "last run" and frames:
        sprites, origin = frames[-1].arms[0][0], line(lang, "origin_run")
    else:  # a seed's sprites, drawn quickly: DDIM in 25 steps, unconditional
        frames = None
        last = None
        for last in join_run(model().denoiser(req.autoguidance), req, ends_only=True).watch():
            pass
        sprites, origin = last.arms[0][0], line(lang, "origin_seed", seed=req.seed)
    shown: list[Frame] = []
    for frame in forward_frames(sprites, req.seed, fps=FPS):
        shown.append(frame)
        stage = render(frame, v, s)
        stage["right"] = render(nearest(frames, frame.t), v, s)["left"] if frames else None
        stage["captions"] = [line(lang, "forward_caption"), line(lang, "beside_caption") if frames else ""]
        tail = line(lang, "done" if frame.done == frame.total else "noising")
        yield stage, line(lang, "forward", t=frame.t, origin=origin, tail=tail), schedule_png(frame.t), shown, gr.skip()
    yield gr.skip(), gr.skip(), gr.skip(), shown, gr.Slider(visible=True, interactive=True, value=Schedule.T)


def compare(t: int, forward_shown: list[Frame] | None, frames: list[Frame] | None, view: str, sprite: str, request: gr.Request = None):
    """The forward process at t beside the run at the same t, from stored frames (the compare slider)."""
    if not forward_shown:
        return gr.skip(), gr.skip(), gr.skip()
    v, s = parse_view(view, sprite)
    ahead = nearest(forward_shown, int(t))
    stage = render(ahead, v, s)
    stage["right"] = render(nearest(frames, ahead.t), v, s)["left"] if frames else None
    lang = language(request)
    stage["captions"] = [line(lang, "forward_caption"), line(lang, "beside_caption") if frames else ""]
    return stage, line(lang, "compare", t=ahead.t), schedule_png(ahead.t)


def _checked(lang: str, served: DemoModel, values: dict):
    """A run's settings (by name: demo/settings.RUN) checked: the Request, the view's index and the sprite's, or gr.Error."""
    try:
        req = parse_request(classes=served.classes, **{name: values[name] for name in REQUEST})
        return req, *parse_view(values["view"], values["sprite"])
    except ValueError as e:
        raise gr.Error(error(lang, e)) from None


def plan_run(request: gr.Request, *values: object) -> dict:
    """The plan of a run for the page's own sampler (demo/browser_run.py), or {"compute": "server"}; bad input: the run's error.

    `values`: the page's settings in their order (demo/settings.settings: the run's, the pace, where to compute)."""
    served, lang = model(), language(request)
    values = dict(zip(ON_PAGE, values))
    req, v, s = _checked(lang, served, values)
    compute = values["compute"] if values["compute"] in COMPUTE else COMPUTE[0]
    check = on_sampler_thread(lambda: self_check(served.weights)) if compute != "server" else {}
    weak = weak_path(served.weights) if served.weak is not None else None
    pace = values["pace"]
    estimate = server_estimate(req) if compute == "auto" else None  # for the page to choose the sooner place
    return plan(req, served.weights, weak, check, sorted(kept_steps(req.steps)), view=v, sprite=s,
                pace=None if pace in (None, "live") else float(pace), lang=lang, compute=compute, server=estimate)


def denoise(sampler: str, steps: int, seed: int, n: int, class_name: str, add_noise: bool, noise_scale: float,
            side_by_side: bool, view: str = VIEWS[0], sprite: str = ALL_SPRITES, guidance: float = DEFAULTS["guidance"], mix: str = "",
            autoguidance: float = DEFAULTS["autoguidance"], pace: str = "live", planned: dict | None = None, browser: str = "",
            request: gr.Request = None):
    """Stream a run: both arms, status line and schedule marker per frame; at the end, its frames for scrubbing and downloads.

    The public /denoise API: the run's settings in demo/settings.RUN's order. `pace` (the page's, not the API's: a
    gr.State): "live", or the seconds to play the run back over (demo/settings.PACES). `browser`: the frames of this
    run as the page computed them (demo/web/page.js), shown and kept instead of computing; `planned`, the plan it
    followed, is the page's alone: its script reads it from the inputs."""
    served, lang = model(), language(request)
    values = (sampler, steps, seed, n, class_name, add_noise, noise_scale, side_by_side, view, sprite, guidance, mix, autoguidance)
    req, v, s = _checked(lang, served, dict(zip(RUN, values)))
    if browser and browser != FALLBACK and not browser.startswith(CHOSE):
        yield from _computed_in_browser(browser, req, v, s, lang, served)
        return
    run = join_run(served.denoiser(req.autoguidance), req)  # one computation for every viewer of the same request
    plot, plotted = None, -math.inf  # the first update always carries a picture: None would clear it
    with run.watch(gap=gap, pace=None if pace in (None, "live") else float(pace)) as viewer:  # left when the tab goes too
        for frame in viewer:
            now = time.monotonic()
            if now - plotted >= max(PLOT_EVERY, 2 * gap()) or frame.done == frame.total:  # the browser fetches each picture
                plot, plotted = schedule_png(frame.t), now
            stage = render(frame, v, s)
            stage["captions"] = [line(lang, "with_noise"), line(lang, "without_noise")]
            # The last picture again, not gr.skip(): Gradio rebuilds a skipped component on every update,
            # and finds a file it has already copied in its cache. No scrub slider here for the same reason.
            yield stage, frame.status_in(lang), plot, gr.skip()
    frames = list(run.frames)  # every frame of the run, a late viewer's included
    shown = line(lang, "shown", frames=len(frames), where=line(lang, "on_server", engine=served.fast.name))
    why = [line(lang, "fallback")] if browser == FALLBACK else [r for r in [chosen_server(lang, browser)] if r]
    yield gr.skip(), " · ".join([frames[-1].status_in(lang), *autoguided(lang, served, req), shown, *why]), gr.skip(), frames


def autoguided(lang: str, served: DemoModel, req) -> list[str]:
    """The status's word on autoguidance, where the run had it (ddpm.guidance.autoguidance decides)."""
    spec = served.autoguidance(req.autoguidance)
    return [] if spec is None else [line(lang, "autoguided", omega=spec.strength, lo=spec.interval[0], hi=spec.interval[1])]


def _computed_in_browser(payload: str, req, view: int, sprite: int | None, lang: str, served: DemoModel):
    """The last frame of a run the page computed, and all its frames kept for scrubbing and the files."""
    try:
        frames, sent, stopped = read_frames(payload, req)
        place = where(lang, sent)
    except ValueError as e:
        raise gr.Error(error(lang, e)) from None
    last = frames[-1]
    stage = render(last, view, sprite)
    stage["captions"] = [line(lang, "with_noise"), line(lang, "without_noise")]
    shown = line(lang, "shown", frames=len(frames), where=place)
    status = " · ".join([last.status_in(lang), *([line(lang, "stopped")] if stopped else []), *autoguided(lang, served, req), shown])
    yield stage, status, schedule_png(last.t), frames


def scrubber(frames: list[Frame] | None, after: dict | None = None, view: str = VIEWS[0], sprite: str = ALL_SPRITES,
             request: gr.Request = None):
    """The scrub slider over a finished run's frames (after the run, an event of its own): at the last frame, or, once,
    at the frame nearest a link's `t`, shown."""
    if not frames:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    t = (after or {}).get("t")
    index = len(frames) - 1 if t is None else frames.index(nearest(frames, t))
    slider = gr.Slider(minimum=0, maximum=len(frames) - 1, value=index, step=1, visible=True, interactive=True)
    if t is None:
        return slider, gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return slider, *show_frame(frames, index, view, sprite, request), None


def open_link(request: gr.Request):
    """The page as its address sets it (demo/link.py): each control the link names (in demo/settings' order), a line on
    the fields it ignored, where the scrub slider goes after the run (the page's script presses Run and the action:
    demo/browser.py), and the empty stage's captions in the page's language."""
    settings, ignored = read_link(dict(request.query_params), model().classes)
    lang = language(request)
    # The class is always set again: after the page's language changes, Gradio shows the dropdown's choice blank until set.
    controls = [gr.update(value=settings.get(name, DEFAULTS["class_name"])) if name in settings or name == "class_name" else gr.skip()
                for name in ON_PAGE]
    note = gr.skip()
    if ignored:
        note = line(lang, "link_ignored", fields=", ".join(f"{name}={value}" for name, value, _ in ignored),
                    reasons="; ".join(error(lang, e) for _, _, e in ignored))
    captions = {"captions": [line(lang, "with_noise"), line(lang, "without_noise")]}  # over the empty boxes
    return *controls, note, {"t": settings.get("t")}, captions


def link(request: gr.Request, *values: object) -> str:
    """The query of a link to the page as it is set now (`values`: the page's settings in their order), keeping the
    address's lang and present."""
    now = dict(request.query_params) if request is not None else {}
    kept, _ = read_link({k: now[k] for k in ("lang", "present") if k in now}, model().classes)
    return write_link({**dict(zip(ON_PAGE, values)), **kept}, model().classes)


def downloads(frames: list[Frame] | None, view: str, sprite: str = ALL_SPRITES):
    """The last run as GIF, MP4 and PNG, and the chosen sprite's journey (the first's where all are shown), made after
    the run (its own event), so no run waits for the encoding."""
    if not frames:
        yield None
        return
    v, s = parse_view(view, sprite)
    # Gradio copies a yielded file into its own cache (cleaned by delete_cache) before it resumes the
    # generator, so ours go once it has: a `return` inside the `with` removed them before Gradio's copy.
    with tempfile.TemporaryDirectory(prefix="ddpm-run-") as folder:
        files = save_run(frames, v, folder)
        files.append(save_journey(frames, min(s or 0, len(frames[-1].arms[0][0]) - 1), folder, ("with noise", "z = 0")))
        yield [str(p) for p in files]


def show_frame(frames: list[Frame] | None, index: int, view: str, sprite: str, request: gr.Request = None):
    """Show a stored frame of the last run (scrubbing), without recomputing anything."""
    if not frames:
        return gr.skip(), gr.skip(), gr.skip()
    frame = frames[max(0, min(int(index), len(frames) - 1))]
    lang = language(request)
    stage = render(frame, *parse_view(view, sprite))
    stage["captions"] = [line(lang, "with_noise"), line(lang, "without_noise")]
    return stage, frame.status_in(lang), schedule_png(frame.t)


def final_frame(sampler: str, steps: int, seed: int, n: int, class_name: str, add_noise: bool, noise_scale: float,
                side_by_side: bool) -> tuple:
    """The last frame of a run, for the cached examples."""
    served = model()
    req = parse_request(sampler=sampler, steps=steps, seed=seed, n=n, class_name=class_name, add_noise=add_noise,
                        noise_scale=noise_scale, side_by_side=side_by_side, classes=served.classes)
    last = None
    for last in join_run(served.denoiser(req.autoguidance), req, ends_only=True).watch():
        pass
    return render(last, 0, None), last.status


def race(seed: float = DEFAULTS["seed"], n: float = DEFAULTS["n"], ddpm_steps: float = default_steps("ddpm"),
         ddim_steps: float = default_steps("ddim"), view: str = VIEWS[0], sprite: str = ALL_SPRITES, request: gr.Request = None):
    """Stream DDPM against DDIM from the same x_T, each arm with the time of its own steps; the race ends with both grids and times."""
    served, lang = model(), language(request)
    try:
        req = parse_request(sampler="DDPM", steps=ddpm_steps, seed=seed, n=n, class_name=None, classes=served.classes)
        fast = parse_request(sampler="DDIM", steps=ddim_steps, seed=seed, n=n, class_name=None, classes=served.classes)
        v, s = parse_view(view, sprite)
    except ValueError as e:
        raise gr.Error(error(lang, e)) from None
    with join_race(served.denoiser(req.autoguidance), req.seed, req.n, req.steps, fast.steps, fps=FPS).watch(gap=gap) as viewer:
        for frame in viewer:
            stage = render(frame, v, s)
            stage["captions"] = [line(lang, "race_caption", name=name, steps=steps, seconds=seconds)
                                 for name, steps, seconds in zip(("DDPM", "DDIM"), (req.steps, fast.steps), frame.seconds)]
            yield stage, frame.status_in(lang)


def picked(frames: list[Frame] | None, sprite: str, evt: gr.EventData):
    """A click on the stage's picture (demo/browser.py sends the image pixel): the sprite and the pixel under it chosen,
    for inside one step."""
    data = getattr(evt, "_data", None)
    if not frames or not isinstance(data, dict):
        return gr.skip(), gr.skip()
    try:
        _, s = parse_view(VIEWS[0], sprite)
        hit = clicked(int(data["x"]), int(data["y"]), int(data["width"]), len(frames[-1].arms[0][0]), s)
    except (KeyError, TypeError, ValueError):
        hit = None
    if hit is None:
        return gr.skip(), gr.skip()
    index, x, y = hit
    return str(index + 1), f"{x},{y}"


def inside_step(request: gr.Request, frames: list[Frame] | None, index: int, *values: object):
    """Inside one step (demo/inside.py): the chosen pixel's arithmetic at the scrubbed frame's t, both arms and every
    channel, and its x_t and x̂0 over every t, the panel opened; `values`: the page's settings in their order
    (demo/settings.ON_PAGE)."""
    served, lang = model(), language(request)
    values = dict(zip(ON_PAGE, values))
    req, _, s = _checked(lang, served, values)
    try:
        pixel = pixel_of(by_name()["pixel"].kind.check("pixel", values["pixel"]))
    except ValueError as e:
        raise gr.Error(error(lang, e)) from None
    if not frames or s is None or pixel is None or req.ddim:
        return line(lang, "inside_pick"), None, gr.skip()
    walked = on_sampler_thread(lambda: walk_alone(served.denoiser(req.autoguidance), req, s))
    if not matches(walked, frames[-1], s):
        return line(lang, "inside_stale"), None, gr.skip()
    frame = frames[max(0, min(int(index or 0), len(frames) - 1))]
    arms = arms_of(req, walked, *pixel)
    return panel(lang, arms, s, *pixel, frame.t), picture(arms, frame.t), gr.Accordion(open=True)


def noise_guess(forward_shown: list[Frame] | None, t: int, sprite: str, seed: float, request: gr.Request = None):
    """Beside the forward process at t: the network's guess ε̂ of the chosen sprite's noise (sprite 1 where all are
    shown) against the true ε, and that example's training loss at every t (demo/inside.guessed), the panel opened."""
    if not forward_shown:
        return gr.skip(), gr.skip(), gr.skip()
    lang = language(request)
    try:
        _, s = parse_view(VIEWS[0], sprite)
        seed = by_name()["seed"].kind.check("seed", seed)
    except ValueError as e:
        raise gr.Error(error(lang, e)) from None
    _, noise, clean = forward_shown[0].arms[0]
    s = min(s or 0, len(clean) - 1)
    eps, x_t, eps_hat, loss = on_sampler_thread(lambda: guessed(model().fast, seed, len(clean), s, clean[s]))
    if not same_noise(eps, noise[s]):
        return line(lang, "guess_stale"), None, gr.skip()
    t = max(1, min(int(t), Schedule.T))  # t = 0 is the clean sprite: no noise to guess
    return (line(lang, "guess_line", sprite=s + 1, t=t, loss=float(loss[t - 1])), guess_picture(eps, x_t, eps_hat, loss, t),
            gr.Accordion(open=True))


def same(value: object) -> object:
    """The value as it is: a control's value into a gr.State."""
    return value


def random_seed() -> int:
    """A fresh seed for the dice button."""
    return random.randint(0, MAX_SEED)


def steps_for(sampler: str) -> int:
    """Steps to show when the sampler changes: that sampler's default (all of them for DDPM, 25 for DDIM)."""
    return default_steps("ddim" if sampler == "DDIM" else "ddpm")
