"""Inside one step (issue 35): one pixel's arithmetic, shown with its numbers, reproduces the step."""
import re

import numpy as np
import pytest
import torch

from ddpm import Schedule, sampler, seeded_noise
from ddpm.data import to_uint8
from ddpm.pixel import plot, step_text, trace, x0_text


def numbers(text: str) -> list[float]:
    """The numbers after the line's formula (after its first "= "), in order; its minus signs are U+2212."""
    values = text.split(" = ", 1)[1].split(" = ", 1)[1].replace("−", "-")
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", values)]


@pytest.fixture(scope="module")
def walked(tiny_model):
    """Sprites 1 … 3 of seed 4, DDPM in 20 steps, both arms (λ = 0.7 on the left), every step kept."""
    x_T, noise = seeded_noise(4, 3)
    steps = list(sampler("ddpm", tiny_model, x_T, steps=20, noise_scale=0.7, noise=noise, side_by_side=True))
    return x_T.repeat(2, 1, 1, 1), steps


def test_the_shown_numbers_reproduce_the_step_and_x0(walked):
    start, steps = walked
    schedule = Schedule().respace(20)
    for row, lam in ((2, 0.7), (5, 0.0)):  # sprite 3 on each arm
        channels = trace(steps, start, schedule, row, y=8, x=5, noise_scale=lam)
        assert [len(c) for c in channels] == [20, 20, 20] and channels[0][0].t == 500 and channels[0][-1].t == schedule.t_model[1]
        for p in (c for ch in channels for c in ch):
            s1, x_t, s2, eps, s3, *rest = numbers(step_text(p))
            *scale, z, shown = rest
            by_hand = s1 * (x_t - s2 * eps) + s3 * (scale[0] if scale else 1.0) * z  # from the shown numbers alone
            assert abs(by_hand - shown) <= 2e-3 * max(1, abs(shown)), step_text(p)
            x_t2, b, eps2, a, x0 = numbers(x0_text(p))
            assert (x_t2, eps2) == (x_t, eps) and abs((x_t2 - b * eps2) / a - x0) <= 2e-3 * max(1, abs(x0)), x0_text(p)
            assert (lam == 1) == ("λ" not in step_text(p))  # λ shown where it is not 1
        for a, b in zip(channels[0], channels[0][1:]):  # each step starts where the last ended
            assert a.x_prev == b.x_t
        for ch in range(3):  # and the last step ends at the run's final pixel
            assert channels[ch][-1].x_prev == pytest.approx(float(steps[-1].x[row, ch, 8, 5]))
        if lam == 0:
            assert all(p.z == 0 for ch in channels for p in ch)  # the z = 0 arm adds nothing


def test_a_sprite_walked_alone_is_the_runs_sprite(walked, tiny_model):
    """Sprite i of a seed draws the same noise alone as in a batch, so the panel recomputes it alone: 2 rows."""
    from ddpm.noise import SpriteNoise

    start, steps = walked
    noise = SpriteNoise(4, [2])  # sprite 3 alone: its x_T (draw 0), then its steps' z
    alone = list(sampler("ddpm", tiny_model, noise.draw(), steps=20, noise_scale=0.7, noise=noise, side_by_side=True))
    for together, single in zip(steps, alone):
        for arm in (0, 1):
            a, b = to_uint8(together.x[[2, 5][arm]:[2, 5][arm] + 1]), to_uint8(single.x[arm:arm + 1])
            assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_the_plot_draws_both_arms_with_the_marked_t(walked):
    start, steps = walked
    schedule = Schedule().respace(20)
    arms = [(name, trace(steps, start, schedule, row, 8, 5, lam)) for name, row, lam in (("noise", 2, 0.7), ("z = 0", 5, 0.0))]
    image = plot(arms, marked=250, size=(300, 120))
    assert image.shape == (240, 300, 3) and image.dtype == np.uint8
    assert (np.abs(image.astype(int) - [255, 127, 14]).sum(axis=2) == 0).any()  # the marked t, in orange


def test_a_click_on_the_stage_finds_its_sprite_and_pixel():
    from demo.inside import clicked

    # 16 sprites in a 4-column grid, 1 px gaps (demo/export.render): 69 px across.
    assert clicked(1, 1, 69, 16, None) == (0, 0, 0)
    assert clicked(1 + 17 + 8, 1 + 2 * 17 + 3, 69, 16, None) == (9, 8, 3)  # row 2, column 1: sprite 10
    assert clicked(17, 5, 69, 16, None) is None and clicked(0, 5, 69, 16, None) is None  # a gap, the border
    assert clicked(1 + 3 * 17, 1 + 3 * 17, 69, 13, None) is None  # past the last of 13 sprites
    assert clicked(5, 7, 16, 16, 2) == (2, 5, 7)  # one sprite shown alone: its own pixels
    assert clicked(5, 7, 69, 16, 2) is None  # a picture of another size: not the one shown


def test_the_panel_is_the_runs_own_step_at_every_kept_frame(tiny_model):
    """Issue 35: the sprite walked alone is the run's sprite at every kept frame, both arms, and the panel's x_{t−1}
    at the pixel is the run's next kept frame there (uint8 rounding allowed)."""
    from demo.inside import arms_of, matches, panel, walk_alone
    from demo.request import parse_request
    from demo.runner import denoise_frames

    req = parse_request(steps=30, seed=3, n=5, noise_scale=0.8)
    frames = list(denoise_frames(tiny_model, req))
    walked = walk_alone(tiny_model, req, 4)
    assert matches(walked, frames[-1], 4) and not matches(walk_alone(tiny_model, parse_request(steps=30, seed=4, n=5), 4), frames[-1], 4)
    start, steps = walked
    for frame in frames[1:]:
        for arm in (0, 1):
            alone = to_uint8(steps[frame.done - 1].x[arm:arm + 1])[0].astype(int)
            assert np.abs(alone - frame.arms[arm][0][4].astype(int)).max() <= 1
    arms = arms_of(req, walked, 3, 11)
    for k, frame in enumerate(frames[:-1]):  # the step from each kept frame's t, and the next kept frame
        later = frames[k + 1]
        if later.done != frame.done + 1:
            continue
        for arm, (_, channels) in enumerate(arms):
            for ch in range(3):
                p = next(p for p in channels[ch] if p.t == frame.t)
                shown = (min(max(p.x_prev, -1.0), 1.0) + 1) * 127.5  # as a frame keeps it: clipped to [−1, 1], in uint8
                assert abs(shown - later.arms[arm][0][4][11, 3, ch]) <= 1  # the next frame's pixel
    text = panel("en", arms, 4, 3, 11, frames[-2].t)
    assert text.count("x_{t−1} = s1·(x_t − s2·ε̂)") == 6 and "sprite 5, pixel (3, 11)" in text and "λ" in text
    assert "红" in panel("zh-CN", arms, 4, 3, 11, frames[-2].t)


def test_the_guess_and_its_loss_are_the_networks_at_each_t(tiny_model):
    """Lesson 2 in one picture: x_t in closed form, ε̂ the network's at that t, and the loss the mean of (ε − ε̂)²,
    each computed here on its own, one t at a time."""
    from ddpm.guess import guess, loss_plot

    torch.manual_seed(5)
    x0, eps = torch.rand(1, 3, 16, 16) * 2 - 1, torch.randn(1, 3, 16, 16)
    ts = [1, 40, 250, 500]
    x_t, eps_hat, loss = guess(tiny_model, x0, eps, ts)
    ab = Schedule().ab_t
    for k, t in enumerate(ts):
        by_hand = ab[t].sqrt() * x0 + (1 - ab[t]).sqrt() * eps  # Ho et al. eq. 4
        torch.testing.assert_close(x_t[k:k + 1], by_hand)
        with torch.no_grad():
            alone = tiny_model(by_hand, torch.tensor([t]), torch.zeros(1, 5))
        torch.testing.assert_close(eps_hat[k:k + 1], alone, atol=1e-5, rtol=1e-4)
        assert float(loss[k]) == pytest.approx(float(((eps - alone) ** 2).mean()), rel=1e-4)
    image = loss_plot(ts, loss.tolist(), marked=250, size=(200, 100))
    assert image.shape == (100, 200, 3) and (np.abs(image.astype(int) - [255, 127, 14]).sum(axis=2) == 0).any()


def test_the_guess_beside_the_forward_process_is_its_sprite_and_its_noise(tiny_model):
    from ddpm import seeded_noise as drawn
    from demo.forward import forward_views
    from demo.inside import guess_picture, guessed

    sprites = to_uint8(torch.rand(3, 3, 16, 16) * 2 - 1)
    (_, noise, clean), = forward_views(sprites, 9, [250])
    eps, x_t, eps_hat, loss = guessed(tiny_model, 9, 3, 1, clean[1])
    assert np.array_equal(to_uint8(eps * 0.5)[0], noise[1]) and torch.equal(eps, drawn(9, 3)[0][1:2])  # the view's own ε
    assert x_t.shape == (500, 3, 16, 16) and loss.shape == (500,)
    assert guessed(tiny_model, 9, 3, 1, clean[1])[3] is loss  # kept for the slider
    picture = guess_picture(eps, x_t, eps_hat, loss, 250)
    assert picture.dtype == np.uint8 and picture.shape[0] > 16 * 8
