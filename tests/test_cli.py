"""The shipped weights and the command line, as a new user runs them."""
import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from ddpm import Guided, Schedule, class_context, load_model, read_classes, sample, sample_ddim, seeded_noise
from ddpm.checkpoint import DEFAULT_WEIGHTS, read_meta
from ddpm.cli import main
from ddpm.data import to_uint8
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


def test_sample_is_autoguided_by_the_weak_net_beside_the_weights(tmp_path, tiny_model):
    from ddpm import ContextUnet, UNetConfig, save_model
    from ddpm.checkpoint import weak_path
    from ddpm.engine import TorchEngine
    from ddpm.guidance import autoguide

    weights = tmp_path / "m.safetensors"
    save_model(weights, tiny_model, {"classes": list(read_classes(DEFAULT_WEIGHTS))})
    args = ["sample", "--weights", str(weights), "--n", "2", *QUICK, "--class", "none", "--fp32"]
    main([*args, "--out", str(tmp_path / "alone.npy")])
    torch.manual_seed(3)
    weak = ContextUnet(UNetConfig(n_feat=8)).eval()
    save_model(weak_path(weights), weak, {"classes": list(read_classes(DEFAULT_WEIGHTS))})
    main([*args, "--autoguidance", "2.5", "--out", str(tmp_path / "guided.npy")])
    main([*args, "--autoguidance", "1", "--out", str(tmp_path / "off.npy")])
    alone, guided, off = (np.load(tmp_path / f"{k}.npy") for k in ("alone", "guided", "off"))
    assert np.array_equal(alone, off) and not np.array_equal(alone, guided)  # found beside the weights; ω = 1 is the net alone
    x_T, _ = seeded_noise(0, 2)
    model = autoguide(TorchEngine(tiny_model, bf16=False), TorchEngine(weak, bf16=False), 2.5)
    by_hand = sample(sample_ddim(model, Schedule().respace(5), x_T))
    assert np.abs(guided.astype(int) - to_uint8(by_hand).astype(int)).max() <= 1  # the same sprites, to a grey level
    with pytest.raises(SystemExit, match="weak net not found"):
        main([*args, "--weak", str(tmp_path / "absent.safetensors"), "--autoguidance", "2", "--out", str(tmp_path / "x.npy")])
