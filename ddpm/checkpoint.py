"""Checkpoints: one safetensors file with the weights, the U-Net config and metadata."""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .device import pick_device
from .unet import ContextUnet, UNetConfig

# The one shipped model: the demo, the CLI, evaluate and bench all load it by default (weights/README.md).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "sprites.safetensors"


def weak_path(weights: str | Path) -> Path:
    """Where the weak net for autoguidance of `weights` lives: beside them, NAME.weak.safetensors (ddpm/guidance.py)."""
    weights = Path(weights)
    return weights.with_name(f"{weights.stem}.weak{weights.suffix}")


class CheckpointError(RuntimeError):
    """A weights file that is missing, unreadable or does not fit the model."""


def save_model(path: str | Path, model: ContextUnet, meta: dict) -> None:
    """Write `model`'s weights, its config and `meta` (JSON-serialisable) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    header = {"config": json.dumps(asdict(model.config)), "meta": json.dumps(meta)}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, tmp, metadata=header)
    tmp.replace(path)  # atomic: a crash mid-write never leaves a half-written checkpoint


def read_meta(path: str | Path) -> dict:
    """The metadata stored in a checkpoint (training data, steps, command, date…)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return json.loads((f.metadata() or {}).get("meta", "{}"))


def read_classes(path: str | Path | None = None) -> tuple[str, ...]:
    """The class names of a checkpoint's context vector, in order (stored by `python -m ddpm train`)."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    try:
        classes = read_meta(path).get("classes")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read weights file {path}: {e}") from e
    if not classes:
        raise CheckpointError(f"{path} records no class names; it was not written by `python -m ddpm train`")
    return tuple(classes)


def load_model(path: str | Path | None = None, device: torch.device | str | None = None) -> ContextUnet:
    """Load a checkpoint into a ready model in eval mode (default: the shipped weights)."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    hint = "train one with `python -m ddpm train --data ../shared/data/dawnlike --out FILE`, or pass --weights FILE"
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}; {hint}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read weights file {path} (truncated or not a safetensors file: {e}); {hint}") from e
    try:
        config_dict = json.loads(header["config"])
        known = {f.name for f in fields(UNetConfig)}
        config = UNetConfig(**{k: v for k, v in config_dict.items() if k in known})
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} holds no U-Net config; it was not written by `python -m ddpm train`") from e
    model = ContextUnet(config)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise CheckpointError(f"weights in {path} do not fit the U-Net {config}: {first}; {hint}") from e
    return model.to(device if device is not None else pick_device()).eval()
