"""The U-Net: shapes, context, determinism."""
import torch
import torch.nn.functional as F

from ddpm import ContextUnet, UNetConfig


def test_shapes_with_and_without_context(tiny_model):
    x = torch.randn(5, 3, 16, 16)
    t = torch.randint(1, 501, (5,))
    c = F.one_hot(torch.arange(5) % 5, 5).float()
    with torch.no_grad():
        assert tiny_model(x, t).shape == x.shape
        assert tiny_model(x, t, c).shape == x.shape
        assert tiny_model(x, t, c * 0.5).shape == x.shape  # mixed context weights
        assert not torch.allclose(tiny_model(x, t, c), tiny_model(x, t))
        # None means the all-zero context that context dropout trains for.
        assert torch.equal(tiny_model(x, t), tiny_model(x, t, torch.zeros(5, 5)))


def test_deterministic_bit_identical():
    torch.manual_seed(1)
    model = ContextUnet(UNetConfig(n_feat=16)).eval()
    x, t = torch.randn(3, 3, 16, 16), torch.tensor([1, 250, 500])
    with torch.no_grad():
        outs = [model(x, t) for _ in range(3)]
    assert all(torch.equal(outs[0], o) for o in outs[1:])
    # No parameters appear during forward (the course's block made a fresh conv there).
    before = sum(1 for _ in model.parameters())
    model(x, t)
    assert sum(1 for _ in model.parameters()) == before


def test_timestep_changes_output(tiny_model):
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(tiny_model(x, torch.tensor([10, 10])), tiny_model(x, torch.tensor([400, 400])))


def test_default_config_size():
    n = sum(p.numel() for p in ContextUnet().parameters())
    course_size = sum(p.numel() for p in ContextUnet(UNetConfig(n_feat=64, attention=False)).parameters())
    assert 300_000 < n < 600_000
    assert 1_300_000 < course_size < 1_700_000  # the course's ContextUnet is about 1.5 M
