"""The U-Net: shapes, context, determinism."""
import pytest
import torch
import torch.nn.functional as F

from ddpm import ContextUnet, UNetConfig


def test_shapes_with_and_without_context(tiny_model):
    x = torch.randn(5, 3, 16, 16)
    t = torch.randint(1, 501, (5,))
    c = F.one_hot(torch.arange(5) % 5, 5).float()
    none = torch.zeros(5, tiny_model.n_cfeat)  # the all-zero context that context dropout trains for
    with torch.no_grad():
        assert tiny_model(x, t, none).shape == x.shape
        assert tiny_model(x, t, c).shape == x.shape
        assert tiny_model(x, t, c * 0.5).shape == x.shape  # mixed context weights
        assert not torch.allclose(tiny_model(x, t, c), tiny_model(x, t, none))


def test_deterministic_bit_identical():
    torch.manual_seed(1)
    model = ContextUnet(UNetConfig(n_feat=16)).eval()
    x, t = torch.randn(3, 3, 16, 16), torch.tensor([1, 250, 500])
    with torch.no_grad():
        outs = [model(x, t, torch.zeros(3, 5)) for _ in range(3)]
    assert all(torch.equal(outs[0], o) for o in outs[1:])
    # No parameters appear during forward (the course's block made a fresh conv there).
    before = sum(1 for _ in model.parameters())
    model(x, t, torch.zeros(3, 5))
    assert sum(1 for _ in model.parameters()) == before


def test_timestep_changes_output(tiny_model):
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        c = torch.zeros(2, 5)
        assert not torch.allclose(tiny_model(x, torch.tensor([10, 10]), c), tiny_model(x, torch.tensor([400, 400]), c))


def test_parameters_in_closed_form():
    """A ResBlock(i, o, e) holds two GroupNorms, two 3×3 convs, the embedding's linear map and a 1×1 shortcut where i ≠ o."""
    def res(i, o, e):
        return 2 * i + 2 * o + (9 * i * o + o) + (e * o + o) + (9 * o * o + o) + (i * o + o if i != o else 0)

    n, k, e = 16, 5, 64
    w = [16, 32, 64]
    expected = (
        (n * e + e + e * e + e) + (k * e + e + e * e + e)  # time and context MLPs
        + (3 * 9 * n + n)  # in_conv
        + res(w[0], w[0], e) + res(w[0], w[1], e) + res(w[1], w[2], e)  # down
        + (2 * w[2] + 4 * w[2] * w[2] + 4 * w[2])  # attention: GroupNorm, in/out projections and their biases
        + res(w[2], w[2], e)  # mid
        + res(2 * w[2], w[2], e) + res(2 * w[1], w[1], e) + res(2 * w[0], w[0], e)  # up
        + (w[2] * w[1] * 4 + w[1]) + (w[1] * w[0] * 4 + w[0])  # 2×2 transposed convs
        + (2 * w[0] + 9 * w[0] * 3 + 3)  # out
    )
    assert sum(p.numel() for p in ContextUnet(UNetConfig(n_feat=16)).parameters()) == expected


def test_config_checks_and_reads_back_from_json():
    assert UNetConfig(channel_mult=[1, 2, 4]) == UNetConfig()  # JSON gives a list
    with pytest.raises(ValueError):
        UNetConfig(n_feat=20)  # GroupNorm's 8 groups
    with pytest.raises(ValueError):
        UNetConfig(height=18)  # not halvable twice
