"""The page's model: the ONNX export against eager torch, and the shipped ONNX file made from the shipped weights."""
import numpy as np
import pytest
import torch

from ddpm import load_model, save_model
from ddpm.checkpoint import DEFAULT_WEIGHTS, weak_path
from ddpm.engine import IR_KEY, weights_digest
from ddpm.web_model import check_inputs, export_onnx, onnx_path

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
# onnxruntime's kernels sum in another order than torch's: 1e-4 of ε̂'s scale (about 1) is float32 round-off.
ATOL = 1e-4


def run_onnx(path, x, t, c) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["eps"], {"x": x, "t": t, "c": c})[0]


def test_export_computes_what_eager_torch_computes_at_any_batch(tiny_model, tmp_path):
    weights = tmp_path / "tiny.safetensors"
    save_model(weights, tiny_model, {"classes": ["a", "b", "c", "d", "e"]})
    path = export_onnx(tiny_model, weights)
    assert path == onnx_path(weights)
    for rows in (1, 5, 32):  # exported at 2 rows: the batch is dynamic
        x, t, c = check_inputs(tiny_model.n_cfeat, rows)
        with torch.no_grad():
            ref = tiny_model(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(c)).numpy()
        np.testing.assert_allclose(run_onnx(path, x, t, c), ref, atol=ATOL, rtol=0)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props[IR_KEY] == weights_digest(weights)


@pytest.mark.parametrize("weights", [DEFAULT_WEIGHTS, weak_path(DEFAULT_WEIGHTS)], ids=["main", "weak"])
def test_the_shipped_weights_have_their_onnx_beside_them(weights):
    if not weights.is_file():
        pytest.skip(f"no {weights.name} ships")
    path = onnx_path(weights)
    assert path.exists(), "python -m ddpm export --weights FILE"
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert props[IR_KEY] == weights_digest(weights)  # made from these weights, not older ones
    model = load_model(weights, "cpu")
    x, t, c = check_inputs(model.n_cfeat, 8)
    with torch.no_grad():
        ref = model(torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(c)).numpy()
    np.testing.assert_allclose(run_onnx(path, x, t, c), ref, atol=ATOL, rtol=0)
