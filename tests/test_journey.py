"""One sprite's journey: the same draws as a run, ten t from T to 1, and a picture of them."""
import imageio.v3 as iio
import numpy as np
import pytest

from ddpm import sample, sampler, seeded_noise
from ddpm.cli import main
from ddpm.data import to_uint8
from ddpm.engine import TorchEngine
from ddpm.journey import collect, journey_steps, picture


def test_journey_steps_are_ten_evenly_spread_from_T_to_1():
    steps = journey_steps(500)
    assert len(steps) == 10 and steps[0] == 1 and steps[-1] == 500  # step 1 is at t = T, step 500 at t = 1
    assert max(np.diff(steps)) - min(np.diff(steps)) <= 1
    assert journey_steps(5) == [1, 2, 3, 4, 5]


def test_the_journey_is_the_runs_own_sprite(tiny_model):
    engine = TorchEngine(tiny_model, bf16=False)
    x_T, noise = seeded_noise(7, 3)
    walk = sampler("ddpm", engine, x_T, steps=20, noise=noise, side_by_side=True)
    labels, xt, x0 = collect(walk, x_T.repeat(2, 1, 1, 1), [2, 5], 20)
    assert labels[0] == "t = 500" and labels[-2] == "t = 25" and labels[-1] == "final" and len(labels) == 11
    x_T, noise = seeded_noise(7, 3)
    run = to_uint8(sample(sampler("ddpm", engine, x_T, steps=20, noise=noise, side_by_side=True)))
    assert np.array_equal(xt[0][-1], run[2]) and np.array_equal(xt[1][-1], run[5])  # sprite 3 of seed 7, both arms
    assert np.array_equal(xt[0][0], xt[1][0]) and np.array_equal(xt[0][0], to_uint8(x_T[2:3])[0])  # both from its x_T


@pytest.mark.parametrize("args, arms, columns", [(["--sampler", "ddim", "--steps", "5"], ["DDIM"], 6),
                                                 (["--steps", "20"], ["with noise", "z = 0"], 11)])
def test_journey_command_writes_a_row_per_view_and_arm(tmp_path, args, arms, columns):
    out = tmp_path / "j.png"
    main(["journey", "--seed", "2", "--sprite", "3", *args, "--scale", "2", "--fp32", "--out", str(out)])
    image = iio.imread(out)
    blank = np.zeros((16, 16, 3), np.uint8)
    names = [f"{view} ({arm})" for arm in arms for view in ("x_t", "predicted x0")]
    expected = picture(["t"] * columns, [(name, [blank] * columns) for name in names], scale=2)
    assert image.shape == expected.shape  # a column per kept step and the final sprite, a row per view and arm
