"""Checkpoint round trip and clear errors for bad files."""
import pytest
import torch

from ddpm import CheckpointError, load_model, save_model
from ddpm.checkpoint import read_meta


def test_round_trip(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    save_model(path, tiny_model, {"steps": 12, "data": "toy"})
    loaded = load_model(path, device="cpu")
    assert loaded.config == tiny_model.config
    assert read_meta(path)["steps"] == 12
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([3, 300])
    with torch.no_grad():
        c = torch.zeros(2, 5)
        assert torch.equal(loaded(x, t, c), tiny_model(x, t, c))


def test_missing_file_names_it(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*nope.safetensors.*python -m ddpm train"):
        load_model(tmp_path / "nope.safetensors")


def test_truncated_file(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    save_model(path, tiny_model, {})
    path.write_bytes(path.read_bytes()[: 5000])
    with pytest.raises(CheckpointError, match="m.safetensors.*truncated"):
        load_model(path)


def test_garbage_file(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_text("not a model")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_model(path)


def test_mismatched_weights(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    save_model(path, tiny_model, {})
    import json

    from safetensors.torch import load_file, save_file
    tensors = load_file(str(path))
    wrong = json.dumps({**tiny_model.config.__dict__, "n_feat": 24})
    save_file(tensors, str(path), metadata={"config": wrong, "meta": "{}"})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(path)
