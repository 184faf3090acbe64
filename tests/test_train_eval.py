"""A training smoke run, the evaluation end to end, and the Fréchet distance."""
import numpy as np
import pytest
import torch

from ddpm import ContextUnet, Sprites, TrainConfig, UNetConfig, load_model
from ddpm.evaluate import evaluate, frechet_distance, nearest_rms, pixel_diversity, train_feature_net
from ddpm.train import lr_factor


def toy_sprites(n=64):
    """Two kinds of flat-coloured blocks on white, labelled 0 and 1."""
    images = np.full((n, 16, 16, 3), 255, np.uint8)
    labels = np.arange(n) % 2
    for i in range(n):
        if labels[i]:
            images[i, 4:12, 4:12] = (200, 40, 40)
        else:
            images[i, 2:14, 6:10] = (40, 40, 200)
    return Sprites(images, labels.astype(np.int64), ("block", "bar"))


def test_training_loss_falls_and_resumes(tmp_path):
    from ddpm.train import train

    cfg = TrainConfig(steps=40, batch_size=32, lr=2e-3, warmup=5, bf16=False, ckpt_every=20, grid_every=0,
                      unet=UNetConfig(n_feat=16, n_cfeat=2, attention=False))
    out = tmp_path / "toy.safetensors"
    losses = train(toy_sprites(), out, cfg)
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])
    assert load_model(out, device="cpu").config == cfg.unet
    longer = TrainConfig(**{**cfg.__dict__, "steps": 50})
    resumed = train(toy_sprites(), out, longer, resume=True)
    assert len(resumed) == 50 and resumed[:40] == losses


def test_lr_schedule():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, 10, 100) == pytest.approx(0.0)


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 8))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    b = rng.normal(size=(2000, 8)) * 3 + 5
    assert frechet_distance(a, b) > 100
    # Closed form for Gaussians with diagonal covariances: ‖Δμ‖² + Σ(σa − σb)².
    assert frechet_distance(a, b) == pytest.approx(8 * 25 + 8 * (1 - 3) ** 2, rel=0.1)


def test_near_copies_and_diversity():
    data = toy_sprites(8).images
    assert (nearest_rms(data, data) == 0).all()
    assert (nearest_rms(data[:, :, ::-1].copy(), data) == 0).all()  # a mirrored tile is a copy too
    noise = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    assert (nearest_rms(noise, data) > 0.2).all()
    assert pixel_diversity(np.repeat(data[:1], 4, axis=0)) == 0
    assert pixel_diversity(noise) > 0.2


def test_evaluate_end_to_end_on_a_tiny_model():
    data = toy_sprites()
    torch.manual_seed(0)
    model = ContextUnet(UNetConfig(n_feat=16, n_cfeat=2, attention=False)).eval()
    net = train_feature_net(data, steps=30)
    res = evaluate(model, data, net, n=8, seed=0, guidance=(0.0, 2.0), log=lambda *_: None)
    for name in ("ddpm500_noise1", "ddpm500_noise0", "ddim25"):
        assert np.isfinite(res[name]["fid"]) and 0 <= res[name]["near_copy_share"] <= 1
    assert list(res["class_accuracy"]) == ["w=0", "w=2"]
    for acc in res["class_accuracy"].values():
        assert set(acc) == {"block", "bar"} and all(0 <= a <= 1 for a in acc.values())
    assert res["fid_floor_real_vs_real"] < res["ddpm500_noise1"]["fid"]
