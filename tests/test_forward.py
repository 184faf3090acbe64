"""The demo's forward process against its closed form, q(x_t | x0) = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε."""
import numpy as np
import pytest
import torch

from ddpm import Schedule, seeded_noise
from ddpm.data import to_tensor, to_uint8
from demo.forward import forward_frames, forward_timesteps, forward_views


def sprites(n=3):
    return np.random.default_rng(0).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)


def test_timesteps_run_from_clean_to_pure_noise():
    assert forward_timesteps(5) == [0, 125, 250, 375, 500]
    assert forward_timesteps(2) == [0, 500]


@pytest.mark.parametrize("t", [0, 1, 100, 500])
def test_each_frame_is_the_closed_form_with_the_seeds_noise(t):
    x0 = sprites()
    (x_t, eps_view, clean), = forward_views(x0, 7, [t])
    s, eps = Schedule(), seeded_noise(7, 3)[0]
    ab = s.ab_t[t].double()
    expected = ab.sqrt() * to_tensor(x0).double() + (1 - ab).sqrt() * eps.double()  # eq. 4, in float64
    assert np.abs(x_t.astype(int) - to_uint8(expected).astype(int)).max() <= 1
    assert np.array_equal(clean, x0) and np.array_equal(eps_view, to_uint8(eps * 0.5))


def test_noised_to_T_the_sprites_land_on_the_seeds_x_T():
    x0, eps = sprites(), seeded_noise(4, 3)[0]
    (x_T_view, _, _), = forward_views(x0, 4, [500])
    ab = Schedule().ab_t[500]
    # x_T − ε = √ᾱ·x0 − (1 − √(1 − ᾱ))·ε: with √ᾱ_500 ≈ 0.08, a few percent of the range (127.5 levels per unit).
    bound = 127.5 * (ab.sqrt() * 1 + (1 - (1 - ab).sqrt()) * eps.abs().max()) + 1
    gap = np.abs(x_T_view.astype(int) - to_uint8(eps).astype(int))
    assert gap.max() <= bound and gap.mean() < bound / 2


def test_frames_are_paced_and_walk_t_upwards():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    out = list(forward_frames(sprites(), 0, seconds=2, fps=2, clock=lambda: now[0], sleep=sleep))
    assert [f.t for f in out] == [0, 125, 250, 375, 500]
    assert [f.done for f in out] == [0, 1, 2, 3, 4] and out[-1].total == 4
    assert slept == pytest.approx([0.5] * 4)  # one frame every 1/fps seconds
    assert torch.equal(torch.tensor(out[0].arms[0][0]), torch.tensor(sprites()))  # t = 0: the sprites themselves
