"""The model for the page's own sampler (demo/web/): the U-Net as ONNX beside its weights, for onnxruntime-web."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from .engine import IR_KEY, weights_digest
from .noise import SpriteNoise
from .unet import ContextUnet

OPSET = 17  # onnxruntime-web's WASM backend runs every operator of this opset that the U-Net uses


def onnx_path(weights: str | Path) -> Path:
    """Where the ONNX model of a weights file lives: beside it, `NAME.onnx`."""
    return Path(weights).with_suffix(".onnx")


def export_onnx(model: ContextUnet, weights: str | Path, out: str | Path | None = None) -> Path:
    """Write `model` (loaded from `weights`) as ONNX: inputs x (B, 3, H, W) float32, t (B,) int64, c (B, n_cfeat)
    float32; output eps, the batch dynamic; the weights' SHA-256 in its metadata, as in the OpenVINO IR."""
    import onnx  # only to write the file (requirements-dev.txt)

    out = Path(out) if out is not None else onnx_path(weights)
    model = model.cpu().eval()
    cfg = model.config
    example = (torch.zeros(2, cfg.in_channels, cfg.height, cfg.height), torch.ones(2, dtype=torch.long), torch.zeros(2, cfg.n_cfeat))
    buffer = io.BytesIO()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # attention's fused kernel has no ONNX form; its plain ops do
    try:
        with torch.no_grad():
            torch.onnx.export(model, example, buffer, input_names=["x", "t", "c"], output_names=["eps"], opset_version=OPSET,
                              dynamic_axes={name: {0: "batch"} for name in ("x", "t", "c", "eps")}, dynamo=False)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(proto, {IR_KEY: weights_digest(weights)})
    onnx.save(proto, str(out))
    return out


def check_inputs(n_cfeat: int, rows: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs both sides can make alone: x from seed 0's noise, t spread over the schedule, c all classes and none."""
    x = SpriteNoise(0, range(rows)).draw().numpy()
    t = np.linspace(1, 500, rows).round().astype(np.int64)
    c = np.zeros((rows, n_cfeat), np.float32)
    c[np.arange(rows) % 2 == 1, :] = 1.0 / n_cfeat  # odd rows ask for every class a little: the context path is exercised too
    return x, t, c
