"""Self-conditioning: the widened net starts as the plain one, training feeds half the rows the net's own x̂0,
and sampling feeds each sprite the x̂0 of its own previous step, alone or in a batch."""
import numpy as np
import pytest
import torch

from ddpm import ContextUnet, Schedule, UNetConfig, load_model
from ddpm.noise import seeded_noise
from ddpm.sampler import sample, sampler
from ddpm.selfcond import SelfConditioned, training_estimate, widen, x0_of
from ddpm.train import TrainConfig, train

from test_train_eval import TOY, toy_sprites


def self_cond_net(seed=0):
    torch.manual_seed(seed)
    net = ContextUnet(UNetConfig(n_feat=8, attention=False, self_cond=True)).eval()
    with torch.no_grad():  # make the x0 inputs matter (a fresh widening has them at zero)
        net.in_conv.weight[:, 3:] = torch.randn_like(net.in_conv.weight[:, 3:])
    return net


def test_widened_net_computes_what_the_plain_net_does_whatever_its_x0(tiny_model):
    wide = widen(tiny_model)
    x, t, c = torch.randn(4, 3, 16, 16), torch.tensor([500, 300, 100, 1]), torch.zeros(4, 5)
    with torch.no_grad():
        plain = tiny_model(x, t, c)
        assert torch.allclose(wide(x, t, c, torch.randn_like(x)), plain, atol=1e-5)
        assert torch.allclose(wide(x, t, c), plain, atol=1e-5)
    assert wide.config.self_cond and not tiny_model.config.self_cond


def test_x0_of_is_eq_15_at_each_rows_own_t_clipped():
    s = Schedule()
    x, eps = torch.randn(3, 3, 16, 16), torch.randn(3, 3, 16, 16)
    t = torch.tensor([7, 250, 499])
    got = x0_of(s, x, t, eps)
    for row in range(3):
        ab = s.ab_t[int(t[row])]
        by_hand = (x[row] - (1 - ab).sqrt() * eps[row]) / ab.sqrt()  # Ho et al. eq. 15
        assert torch.allclose(got[row], by_hand.clamp(-1, 1), atol=1e-5)
    assert got.abs().max() <= 1 and (by_hand.abs() > 1).any()  # the clip does something


def test_training_estimate_is_the_nets_own_x0_on_about_half_the_rows_and_zero_elsewhere():
    net, s = self_cond_net(), Schedule()
    x = torch.randn(200, 3, 16, 16)
    t = torch.randint(1, 501, (200,))
    c = torch.zeros(200, 5)
    got = training_estimate(net, s, x, t, c, torch.Generator().manual_seed(0))
    with torch.no_grad():
        own = x0_of(s, x, t, net(x, t, c))
    fed = got.flatten(1).abs().sum(1) > 0
    assert 70 < int(fed.sum()) < 130  # Binomial(200, ½)
    assert torch.allclose(got[fed], own[fed], atol=1e-5)
    assert not got[~fed].any()


class Recorder:
    """A self-conditioned stand-in: ε̂ = 0.1·x + 0.2·x0_input, recording each call's x0 input."""

    def __init__(self):
        self.config = UNetConfig(n_feat=8, self_cond=True)
        self.inputs = []

    def __call__(self, x, t, c, x0=None):
        self.inputs.append(x0.clone())
        return 0.1 * x + 0.2 * x0


def test_each_call_gets_the_previous_calls_x0_and_a_new_walk_starts_from_zeros():
    s, rec = Schedule(), Recorder()
    wrapped = SelfConditioned(rec, s)
    x, c = torch.randn(2, 3, 16, 16), torch.zeros(2, 5)
    eps1 = wrapped(x, torch.tensor([500, 500]), c)
    assert not rec.inputs[0].any()
    wrapped(x, torch.tensor([499, 500]), c)  # row 0 goes on; row 1 starts a new walk (its t did not fall)
    assert torch.equal(rec.inputs[1][0], x0_of(s, x, torch.tensor([500]), eps1[:1])[0])
    assert not rec.inputs[1][1].any()
    wrapped(torch.randn(3, 3, 16, 16), torch.tensor([1, 1, 1]), torch.zeros(3, 5))  # another batch: afresh
    assert not rec.inputs[2].any()


def test_a_self_conditioned_sprite_is_the_same_alone_or_among_others():
    net = self_cond_net()
    x_T, noise = seeded_noise(3, 6)
    together = sample(sampler("ddpm", SelfConditioned(net), x_T, steps=20, noise=noise))
    alone_x, alone_noise = seeded_noise(3, 6)
    wrapped = SelfConditioned(net)  # one wrapper, run after run
    for i in (4, 1):
        alone = sample(sampler("ddpm", wrapped, alone_x[i:i + 1], steps=20, noise=alone_noise[i:i + 1]))
        assert torch.allclose(alone[0], together[i], atol=1e-4)


def test_it_refuses_a_plain_net(tiny_model):
    with pytest.raises(ValueError, match="self-conditioning"):
        SelfConditioned(tiny_model)


def test_self_conditioned_training_from_a_plain_net_runs_and_is_saved_self_conditioned(tmp_path):
    plain = tmp_path / "plain.safetensors"
    train(toy_sprites(), plain, TrainConfig(**{**TOY.__dict__, "steps": 10}))
    cfg = TrainConfig(**{**TOY.__dict__, "steps": 20, "unet": UNetConfig(**{**TOY.unet.__dict__, "self_cond": True})})
    out = tmp_path / "sc.safetensors"
    losses = train(toy_sprites(), out, cfg, init=plain)
    model = load_model(out, device="cpu")
    assert model.config.self_cond and model.in_conv.weight.shape[1] == 6
    assert np.isfinite(losses).all()
    assert model.in_conv.weight[:, 3:].abs().sum() > 0  # the x0 inputs have learned something


def test_a_self_conditioned_net_runs_on_eager_torch_and_is_not_exported(tmp_path):
    from ddpm.checkpoint import save_model
    from ddpm.engine import TorchEngine, export_ir, fast_model

    path = tmp_path / "sc.safetensors"
    save_model(path, self_cond_net(), {})
    engine = fast_model(path, "cpu", log=lambda *_: None)
    assert isinstance(engine, TorchEngine)
    x, t, c = torch.randn(2, 3, 16, 16), torch.tensor([400, 400]), torch.zeros(2, 5)
    assert not torch.allclose(engine(x, t, c), engine(x, t, c, torch.ones_like(x)))  # the x0 input reaches the net
    with pytest.raises(ValueError, match="eager torch"):
        export_ir(self_cond_net(), path)
