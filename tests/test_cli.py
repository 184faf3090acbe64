"""The shipped weights and the sampling command, as a new user runs them."""
import numpy as np
import pytest
import torch

from ddpm import Schedule, load_model, sample, sample_ddim, seeded_noise
from ddpm.checkpoint import DEFAULT_WEIGHTS, SMALL_WEIGHTS
from ddpm.cli import main
from ddpm.guidance import MIXED, Guided, class_context


@pytest.mark.parametrize("path", [DEFAULT_WEIGHTS, SMALL_WEIGHTS], ids=["wide", "small"])
def test_shipped_weights_draw_finite_sprites(path):
    model = load_model(path, device="cpu")
    x_T, _ = seeded_noise(0, 5)
    x = sample(sample_ddim(Guided(model, 4.0), Schedule(), x_T, steps=10, context=class_context(MIXED, 5)))
    assert x.shape == (5, 3, 16, 16) and torch.isfinite(x).all()
    assert x.std() > 0.2 and x.abs().max() < 3  # sprites in [−1, 1], not a constant or a blow-up


def test_sample_command_with_no_class_arguments(tmp_path):
    out = tmp_path / "grid.npy"
    main(["sample", "--n", "3", "--sampler", "ddim", "--steps", "5", "--out", str(out)])
    images = np.load(out)
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    main(["sample", "--n", "3", "--sampler", "ddim", "--steps", "5", "--class", "none", "--out", str(tmp_path / "u.npy")])
    assert not np.array_equal(np.load(tmp_path / "u.npy"), images)  # the default asks for classes; none does not


def test_sample_command_refuses_an_unknown_class(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--class", "dragon", "--out", str(tmp_path / "x.png")])
    assert "invalid choice" in capsys.readouterr().err
