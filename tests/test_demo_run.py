"""The demo's run logic: request checks, frames, throttling, stopping, saved files."""
import base64
import math
import threading

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from ddpm.images import png_data_url
from demo.batcher import Batcher
from demo.export import frame_image, render, save_run, thin
from demo.request import parse_request
from demo.settings import VIEWS
from demo.frames import Frame
from demo.runner import denoise_frames, kept_steps
from demo.serving import join_run
from demo.shared import Runs
from demo.schedule_plot import schedule_image, schedule_png

GOOD = dict(sampler="DDPM", steps=20, seed=3, n=4, class_name="any", add_noise=True, noise_scale=1.0, side_by_side=True,
            guidance=2.0)


def test_parse_request_accepts_good_input():
    req = parse_request(**GOOD)
    assert (req.ddim, req.steps, req.seed, req.n, req.class_name, req.noise_scale, req.side_by_side) == (False, 20, 3, 4, None, 1.0, True)
    assert parse_request(class_name="hero", add_noise=False, noise_scale=1.5).noise_scale == 0.0  # toggle off: no extra noise
    assert parse_request(sampler="DDIM", steps=25, seed=0, n=4, class_name="food").side_by_side is False  # DDIM has no noise to compare
    assert parse_request(steps=20.0, seed=3, n=4, noise_scale=1).steps == 20  # JSON numbers may come as floats
    assert parse_request(steps=20, seed=3, n=4, class_name="mixed").class_name == "mixed"


@pytest.mark.parametrize("key, bad, words", [
    ("sampler", "DDPMX", "sampler"), ("steps", 0, "steps"), ("steps", 501, "steps"), ("steps", 2.5, "steps"),
    ("steps", math.nan, "steps"), ("steps", "20", "steps"), ("steps", "ten", "steps"), ("seed", -1, "seed"),
    ("seed", math.inf, "seed"), ("seed", "x", "seed"), ("n", 65, "sprites"), ("n", None, "sprites"), ("class_name", "dragon", "class"),
    ("add_noise", "yes", "add noise"), ("noise_scale", math.nan, "λ"), ("noise_scale", 2.5, "λ"), ("noise_scale", -0.1, "λ"),
    ("side_by_side", 1, "side by side"), ("guidance", -1, "guidance"), ("guidance", math.nan, "guidance"), ("guidance", 11, "guidance"),
    ("guidance", "2", "guidance"), ("guidance", "lots", "guidance"), ("guidance", True, "guidance"),
    ("autoguidance", 0.5, "autoguidance ω"), ("autoguidance", 4.5, "autoguidance ω"), ("autoguidance", math.nan, "autoguidance ω"),
    ("autoguidance", "2", "autoguidance ω"),
])
def test_parse_request_rejects_bad_input_clearly(key, bad, words):
    with pytest.raises(ValueError, match=words):
        parse_request(**{**GOOD, key: bad})


def test_unnamed_settings_are_the_pages_defaults_and_steps_the_samplers():
    from demo.settings import DEFAULTS

    req = parse_request()
    assert (req.kind, req.steps, req.seed, req.n, req.class_name, req.noise_scale, req.side_by_side, req.guidance) == (
        "ddpm", 500, DEFAULTS["seed"], DEFAULTS["n"], None, 1.0, True, DEFAULTS["guidance"])
    assert parse_request(sampler="DDIM").steps == 25
    with pytest.raises(TypeError):
        parse_request("DDPM", 20)  # by name only: eight values in a row were too easy to misplace


def test_frames_start_identical_and_end_at_t0(tiny_model):
    out = list(denoise_frames(tiny_model, parse_request(**GOOD)))
    assert len(out) == 21 and out[0].done == 0 and out[-1].done == 20
    first = out[0]
    assert np.array_equal(first.arms[0][0], first.arms[1][0])  # both arms from the same x_T
    assert [f.t for f in out[:2]] == [500, 475] and out[-1].t == 0
    assert not np.array_equal(out[-1].arms[0][0], out[-1].arms[1][0])  # noise vs no noise differ
    assert out[-1].arms[0][0].shape == (4, 16, 16, 3)


@pytest.mark.parametrize("total", [1, 25, 50, 51, 100, 200, 500])
def test_frames_are_kept_by_step_every_one_at_the_end(total):
    kept = kept_steps(total)
    assert total in kept and min(kept) >= 1 and max(kept) == total
    assert set(range(max(1, total - 49), total + 1)) <= kept  # every step of the last 50, where the sprites form
    assert len(kept) >= min(total, 100)  # enough to scrub a 500-step run smoothly: at least 100
    head = [0, *sorted(k for k in kept if k <= total - 50)]
    gaps = {b - a for a, b in zip(head, head[1:])}
    assert not gaps or max(gaps) - min(gaps) <= 1  # evenly spread before them


def test_a_run_keeps_the_same_frames_on_any_machine(tiny_model):
    slow, fast = iter(range(0, 10**6, 1000)), iter(range(10**6))
    a = [f.done for f in denoise_frames(tiny_model, parse_request(**GOOD), clock=lambda: next(slow))]
    b = [f.done for f in denoise_frames(tiny_model, parse_request(**GOOD), clock=lambda: next(fast))]
    assert a == b == [0, *sorted(kept_steps(20))]
    assert [f.done for f in denoise_frames(tiny_model, parse_request(**GOOD), ends_only=True)] == [0, 20]


def test_run_matches_frames_and_delivers_first_and_last(tiny_model):
    req = parse_request(**GOOD)
    threaded = list(join_run(tiny_model, req).watch())
    direct = list(denoise_frames(tiny_model, req))
    assert threaded[0].done == 0 and threaded[-1].done == 20
    assert np.array_equal(threaded[-1].arms[0][0], direct[-1].arms[0][0])


class Counting:
    """A denoiser that records the timestep of every call."""

    def __init__(self, model):
        self.model, self.n_cfeat, self.calls = model, model.n_cfeat, []

    def __call__(self, x, t, c):
        self.calls.append(int(t[0]))
        return self.model(x, t, c)


def test_closing_run_stops_the_sampler(tiny_model):
    counting = Counting(tiny_model)
    run = join_run(counting, parse_request(steps=500, seed=0, n=2, side_by_side=False))
    gen = run.watch()
    next(gen)
    next(gen)
    gen.close()  # what a Stop or a closed tab does to the handler's generator
    run.thread.join(10)  # its only viewer left: the run's thread ends
    assert not run.thread.is_alive() and run.stop.is_set() and len(counting.calls) < 500


def test_a_viewer_who_leaves_before_the_first_frame_leaves(tiny_model):
    gate = threading.Event()
    counting = Counting(tiny_model)
    runs = Runs(Batcher())

    def produce(denoiser, stop):
        gate.wait(10)  # no frame yet when the viewer goes
        yield from denoise_frames(denoiser, parse_request(**GOOD), stop=stop)

    run = runs.view("key", counting, 8, produce)
    run.watch().close()  # never iterated: a tab closed while the run had shown nothing
    assert run.viewers == 0 and run.stop.is_set()
    gate.set()
    run.thread.join(10)
    assert not run.thread.is_alive() and counting.calls == []  # stopped before its first step
    assert runs.counts() == (0, 0)


def test_a_late_viewer_starts_at_the_newest_frame_and_an_early_one_at_x_T(tiny_model):
    runs = Runs(Batcher())
    held, go = threading.Event(), threading.Event()

    def produce(denoiser, stop):
        for frame in denoise_frames(denoiser, parse_request(**GOOD), stop=stop):
            yield frame
            if frame.done == 5:
                held.set()
                go.wait(10)

    early = runs.view("key", tiny_model, 8, produce).watch()
    assert next(early).done == 0  # x_T first, whatever has been made meanwhile
    assert held.wait(10)
    late = runs.view("key", tiny_model, 8, produce)
    late_viewer = late.watch()
    assert next(late_viewer).done == 5  # the newest frame at once
    go.set()
    assert list(early)[-1].done == list(late_viewer)[-1].done == 20  # both get the last frame


def test_views_and_single_sprite(tiny_model):
    last = list(denoise_frames(tiny_model, parse_request(**GOOD)))[-1]
    grid = frame_image(last, 0, VIEWS.index("x_t"))
    assert grid.shape == (35, 35, 3)  # 2×2 sprites with 1-pixel white borders
    assert frame_image(last, 1, VIEWS.index("predicted x̂0"), sprite=2).shape == (16, 16, 3)


def test_save_run_writes_gif_mp4_png(tiny_model, tmp_path):
    out = list(denoise_frames(tiny_model, parse_request(**GOOD)))
    paths = save_run(out, 0, tmp_path)
    assert [p.suffix for p in paths] == [".gif", ".mp4", ".png"]
    assert iio.imread(paths[2]).shape == (35 * 4, (35 * 2 + 4) * 4, 3)
    assert all(p.stat().st_size > 0 for p in paths)


def test_frames_travel_as_lossless_small_pngs(tiny_model):
    """The page gets each frame's grid at 1 pixel a pixel, inline, and losslessly (PNG)."""
    grid = frame_image(list(denoise_frames(tiny_model, parse_request(**GOOD)))[-1], 0, 0)
    url = png_data_url(grid)
    assert url.startswith("data:image/png;base64,")
    assert np.array_equal(iio.imread(base64.b64decode(url.split(",", 1)[1]), extension=".png"), grid)


def test_a_frame_is_drawn_once_for_all_viewers_and_never_mistaken_for_another(tiny_model):
    """The stage's pictures are cached by the frame itself: the same frame gives the same strings, another frame its own."""
    first, *_, last = denoise_frames(tiny_model, parse_request(**GOOD))
    again = render(last, 0, None)
    assert render(last, 0, None)["left"] is again["left"]  # drawn and encoded once
    for frame in (first, last):
        shown = render(frame, 0, None)
        assert shown["left"] == png_data_url(frame_image(frame, 0, 0, None))
        assert shown["right"] == png_data_url(frame_image(frame, 1, 0, None))
    assert render(first, 0, None)["left"] != again["left"]


def test_the_benchs_demo_run_is_the_pages_default_run(tiny_model):
    """`python -m demo.bench`'s demo case runs the page's default (16 + 16 side by side) through the run code to its end."""
    from demo.bench import default_run

    last = default_run(tiny_model, seed=12_345, steps=3)
    assert (last.done, last.total, len(last.arms)) == (3, 3, 2)
    assert last.arms[0][0].shape == (16, 16, 16, 3)


def test_the_schedule_picture_file_is_the_drawn_picture():
    """What a run sends (a PNG file per t) is the picture drawn for that t, pixel for pixel."""
    for t in (None, 1, 250):
        assert np.array_equal(iio.imread(schedule_png(t)), schedule_image(t))
    assert schedule_png(250) != schedule_png(251)


class _NoTorch(TorchFunctionMode):
    """Fails on any torch function or tensor method called while it is active (in this thread)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        raise AssertionError(f"torch work on a request thread: {func}")


def test_request_side_helpers_do_no_torch_work(tiny_model, tmp_path):
    """Checks, drawing and saving run on the server's other threads; torch work there slowed sampling 1.5×."""
    frame_list = list(denoise_frames(tiny_model, parse_request(steps=3, seed=0, n=2)))
    schedule_image(None)  # the first call computes the schedule; the app makes it on the sampling thread
    with _NoTorch():
        with pytest.raises(AssertionError, match="torch work"):
            torch.zeros(1)  # the guard itself works
        parse_request(steps=500, seed=0, n=16, class_name="hero")
        frame_image(frame_list[-1], 1, 2)
        schedule_image(250)
        save_run(frame_list, 0, tmp_path)


def test_guidance_acts_only_with_a_class(tiny_model):
    def last(class_name, w):
        req = parse_request(steps=4, seed=0, n=2, class_name=class_name, side_by_side=False, guidance=w)
        return list(denoise_frames(tiny_model, req))[-1].arms[0][0]

    assert np.array_equal(last("any", 0.0), last("any", 5.0))  # nothing to guide towards
    assert not np.array_equal(last("food", 0.0), last("food", 5.0))


def test_a_served_run_is_autoguided_by_the_weak_net_as_the_library_builds_it(tiny_model):
    from ddpm import ContextUnet, UNetConfig, sample, sampler, seeded_noise
    from ddpm.guidance import AutoGuided
    from demo.serving import DemoModel

    torch.manual_seed(1)
    weak = ContextUnet(UNetConfig(n_feat=8)).eval()
    served, alone = DemoModel(tiny_model, ("a",) * 5, None, weak), DemoModel(tiny_model, ("a",) * 5, None)
    req = parse_request(steps=4, seed=0, n=2, side_by_side=False, autoguidance=2.5)
    x_T, noise = seeded_noise(0, 2)
    by_hand = sample(sampler("ddpm", AutoGuided(tiny_model, weak, 2.5), x_T, steps=4, noise=noise))
    last = list(join_run(served.denoiser(2.5), req).watch())[-1]
    assert served.denoiser(2.5) is served.denoiser(2.5)  # runs at one ω share the batcher's passes
    assert np.array_equal(last.arms[0][0], frame_image_of(by_hand))
    assert alone.denoiser(2.5) is tiny_model and served.denoiser(1.0) is tiny_model  # no weak net, or ω = 1: the net alone


def frame_image_of(x: torch.Tensor) -> np.ndarray:
    """Sprites as a frame keeps them (demo/frames.py)."""
    from demo.frames import views
    blank = torch.zeros_like(x)
    return views(x, blank, blank, 1)[0][0]


@pytest.mark.parametrize("count, most, expected", [(5, 100, [0, 1, 2, 3, 4]), (10, 4, [0, 3, 6, 9]), (101, 3, [0, 50, 100]),
                                                   (1, 100, [0]), (7, 2, [0, 6])])
def test_saved_runs_are_thinned_evenly_keeping_the_first_and_last(count, most, expected):
    assert thin(count, most) == expected


def test_saved_animation_has_the_thinned_frames(tiny_model, tmp_path):
    out = list(denoise_frames(tiny_model, parse_request(**GOOD)))  # 21 frames
    gif = iio.imread(save_run(out, 0, tmp_path, scale=1, max_frames=5)[1], index=None)  # the MP4 keeps every frame
    assert len(gif) == 5 + 25  # thinned to 5, then the last held for 25


@pytest.mark.parametrize("done, total, elapsed, expected", [
    (0, 500, 0.0, "t = 500 · pure noise x_T · starting"),
    (100, 500, 2.0, "t = 400 · step 100/500 · 50 steps/s · 8.0 s left"),  # 400 steps left at 50 a second
    (500, 500, 10.0, "t = 0 · step 500/500 · 50 steps/s · done"),
    (5, 25, 0.5, "t = 400 · step 5/25 · 10 steps/s · 2.0 s left"),
])
def test_status_line_arithmetic(done, total, elapsed, expected):
    t = int(expected.split()[2])
    assert Frame(t, done, total, elapsed, ()).status == expected


def test_the_race_starts_both_samplers_from_the_same_noise_and_ends_with_both(tiny_model):
    from demo.runner import race_frames

    out = list(race_frames(tiny_model, 3, 2, 20, 5, fps=1e9))
    assert np.array_equal(out[0].arms[0][0], out[0].arms[1][0])  # the same x_T on both sides
    assert out[0].steps_done == (0, 0) and out[-1].steps_done == (20, 5) and out[-1].totals == (20, 5)
    assert "both done" in out[-1].status and all(s > 0 for s in out[-1].seconds)
    assert [f.steps_done[1] for f in out[:7]] == [0, 1, 2, 3, 4, 5, 5]  # a step of each in turn, DDIM done first
    # Each arm ends where its sampler alone ends.
    from ddpm import sample, sampler, seeded_noise
    from ddpm.data import to_uint8
    x_T, noise = seeded_noise(3, 2)
    assert np.array_equal(out[-1].arms[0][0], to_uint8(sample(sampler("ddpm", tiny_model, x_T, steps=20, noise=noise))))
    assert np.array_equal(out[-1].arms[1][0], to_uint8(sample(sampler("ddim", tiny_model, x_T, steps=5))))


def test_a_mix_of_one_class_draws_what_that_class_draws(tiny_model):
    from demo.settings import MIX

    def last(class_name, mix=""):
        req = parse_request(steps=4, seed=0, n=2, class_name=class_name, side_by_side=False, guidance=3.0, mix=mix)
        return list(denoise_frames(tiny_model, req))[-1].arms[0][0]

    assert np.array_equal(last(MIX, "food 1"), last("food"))
    assert not np.array_equal(last(MIX, "hero 1, food 0.6"), last("hero"))
    assert parse_request(class_name=MIX, mix="hero=1, food:0.6").mix == (("hero", 1.0), ("food", 0.6))
    for bad in ("", "dragon 1", "hero", "hero -1", "hero 0"):
        with pytest.raises(ValueError, match="mix"):
            parse_request(steps=4, seed=0, n=2, class_name=MIX, side_by_side=False, guidance=3.0, mix=bad)


def test_every_request_error_reads_in_chinese_too():
    from demo.i18n import EN, ERRORS, NAMES, ZH, error
    from demo.settings import RequestError

    assert set(ERRORS[ZH]) == set(ERRORS[EN]) and set(NAMES[ZH]) == set(NAMES[EN])
    with pytest.raises(RequestError) as bad:
        parse_request(steps=501, seed=0, n=4)
    assert error(EN, bad.value) == "steps must be from 1 to 500, got 501"
    assert error(ZH, bad.value) == "步数必须在 1 到 500 之间，收到的是 501"
    for args in [dict(sampler="GAN"), dict(add_noise="yes"), dict(class_name="mix", mix="hero 0"), dict(steps="ten"),
                 dict(autoguidance=0)]:
        with pytest.raises(RequestError) as bad:
            parse_request(**args)
        name = next(iter(args)) if "mix" not in args else "mix"
        assert bad.value.values["name"] == name and NAMES[ZH][name] in error(ZH, bad.value)  # named, in the viewer's words
        assert not any(word in error(ZH, bad.value) for word in ("must", "needs", "got"))  # no English left


def test_pacing_shows_the_newest_frame_whose_time_has_come():
    from demo.shared import due_frame, next_due

    shares = [0.0, 0.25, 0.5, 0.75, 1.0]  # five frames made, evenly over the run
    assert due_frame(shares, 1, now=5.0, started=None, pace=None) == 4  # live: the newest, whatever the time
    assert due_frame(shares, 0, now=10.0 + 0.5 * 8, started=10.0, pace=8.0) == 2  # paced over 8 s: t = 4 s is frame 2's
    assert due_frame(shares, 0, now=10.0 + 0.5 * 8 - 1e-9, started=10.0, pace=8.0) == 1  # a moment before, frame 1
    assert due_frame(shares, 3, now=10.0, started=10.0, pace=8.0) == 3  # never back before the frame shown
    assert due_frame(shares[:2], 0, now=100.0, started=10.0, pace=8.0) == 1  # never ahead of what is made
    assert next_due(shares, 1, gap_due=11.0, started=10.0, pace=8.0) == 14.0  # frame 2 at 10 + 8·0.5, after the gap
    assert next_due(shares, 1, gap_due=20.0, started=10.0, pace=8.0) == 20.0  # the gap is longer
    assert next_due(shares, 4, gap_due=11.0, started=10.0, pace=8.0) == 11.0  # nothing made after it: the gap alone


def test_a_paced_viewer_plays_the_run_back_over_its_length_never_ahead(tiny_model):
    """A kept run replayed in slow motion, on a clock that moves 10 ms each time the viewer reads it: no sleeping."""
    import itertools

    runs = Runs(Batcher())
    req = parse_request(**GOOD)
    list(runs.view("key", tiny_model, 8, lambda d, stop: denoise_frames(d, req, stop=stop)).watch())  # computed, kept
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.01  # noqa: E731
    seen = [(clock(), frame.done) for frame in runs.view("key", tiny_model, 8, None).watch(poll=0.001, pace=6.0, clock=clock)]
    start = seen[0][0]
    assert seen[0][1] == 0 and seen[-1][1] == 20 and [d for _, d in seen] == sorted(d for _, d in seen)
    assert all(t - start >= 6.0 * done / 20 - 0.05 for t, done in seen)  # no frame before its share of the 6 s
    assert seen[-1][0] - start >= 5.9 and len(seen) > 10  # the whole length, and many frames, not a jump to the end


def test_the_runs_journey_is_its_sprite_at_ten_t_and_at_the_end(tiny_model, tmp_path):
    from demo.export import save_journey

    out = list(denoise_frames(tiny_model, parse_request(steps=40, seed=3, n=4)))
    path = save_journey(out, 2, tmp_path, ("with noise", "z = 0"))
    image = iio.imread(path)
    assert path.name == "journey_sprite3.png" and image.shape[0] > image.shape[1] / 4  # four rows
    # The last column is sprite 3's final sprite, as the run's last frame has it (6 px a pixel, the bottom right one).
    last = image[-24 - 96:-24, -24 - 96:-24][::6, ::6]  # a gap after each sprite, and a margin of one gap
    assert np.array_equal(last, out[-1].arms[1][0][2])  # the z = 0 arm's x̂0 row ends with its final sprite
