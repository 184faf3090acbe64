"""The shipped weights and the command line, as a new user runs them."""
import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from ddpm import Guided, Schedule, class_context, load_model, read_classes, sample, sample_ddim, seeded_noise
from ddpm.checkpoint import DEFAULT_WEIGHTS, read_meta
from ddpm.cli import main
from ddpm.guidance import MIXED

QUICK = ["--sampler", "ddim", "--steps", "5"]


def test_the_shipped_weights_draw_finite_sprites_in_seconds():
    path = DEFAULT_WEIGHTS
    model = load_model(path, device="cpu")
    x_T, _ = seeded_noise(0, 5)
    c = class_context(MIXED, 5, read_classes(path))
    x = sample(sample_ddim(Guided(model, 4.0), Schedule().respace(10), x_T, context=c))
    assert x.shape == (5, 3, 16, 16) and torch.isfinite(x).all()
    assert x.std() > 0.2 and x.abs().max() < 3  # sprites in [−1, 1], not a constant or a blow-up


def test_sample_command_with_no_class_arguments(tmp_path):
    out = tmp_path / "grid.npy"
    main(["sample", "--n", "3", *QUICK, "--out", str(out)])
    images = np.load(out)
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    main(["sample", "--n", "3", *QUICK, "--class", "none", "--out", str(tmp_path / "u.npy")])
    assert not np.array_equal(np.load(tmp_path / "u.npy"), images)  # the default asks for classes; none does not


def test_sample_png_is_the_upscaled_grid_of_the_npy(tmp_path):
    main(["sample", "--n", "4", *QUICK, "--out", str(tmp_path / "s.npy")])
    main(["sample", "--n", "4", *QUICK, "--scale", "3", "--out", str(tmp_path / "s.png")])
    sprites, png = np.load(tmp_path / "s.npy"), iio.imread(tmp_path / "s.png")
    assert png.shape == (35 * 3, 35 * 3, 3)  # 2×2 sprites with 1-pixel borders, ×3
    assert np.array_equal(png[3:3 + 48:3, 3:3 + 48:3], sprites[0])  # the first sprite, 3 px a pixel


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_sample_animation_holds_a_frame_per_step_and_the_last(tmp_path, suffix):
    out = tmp_path / f"run{suffix}"
    main(["sample", "--n", "1", *QUICK, "--scale", "2", "--out", str(out)])
    frames = iio.imread(out, index=None)
    assert frames.shape[1:3] == (18 * 2, 18 * 2)  # one sprite with its border, ×2
    if suffix == ".mp4":  # 5 steps, a frame each, then the last held for 25 more
        assert len(frames) == 5 + 25
    else:  # the GIF writer merges the held frames into the last one's duration
        assert len(frames) == 5 and len({f.tobytes() for f in frames}) == 5


def test_info_prints_the_checkpoint_metadata(capsys):
    main(["info"])
    assert json.loads(capsys.readouterr().out) == read_meta(DEFAULT_WEIGHTS)


def test_sample_command_refuses_an_unknown_class(tmp_path):
    with pytest.raises(SystemExit, match="class must be one of"):
        main(["sample", "--class", "dragon", *QUICK, "--out", str(tmp_path / "x.png")])
