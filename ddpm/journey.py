"""One sprite's journey, for slides: its x_t and the x̂0 predicted from it at a few t from T down to 1, then the
final sprite, each labelled with its t, one row per view and arm (after the DDPM paper's figures of one sample)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .data import to_uint8
from .images import upscale
from .sampler import Step


def journey_steps(total: int, count: int = 10) -> list[int]:
    """The steps (1 … total, in the walk's order) whose x_t and x̂0 the journey shows: `count` evenly spread, first and last."""
    count = min(count, total)
    return sorted({round(j * (total - 1) / max(1, count - 1)) + 1 for j in range(count)})


def collect(walk: Iterable[Step], x_T: torch.Tensor, rows: Sequence[int], total: int,
            count: int = 10) -> tuple[list[str], list[list[np.ndarray]], list[list[np.ndarray]]]:
    """From a sampler's walk of `total` steps that started at x_T: the journey of batch rows `rows`.

    Returns the columns' labels (each kept step's t, then "final"), and for each row its x_t and the x̂0 predicted
    from it at those steps (uint8 sprites), each list ending with the final sprite."""
    keep = set(journey_steps(total, count))
    labels, xt, x0 = [], [[] for _ in rows], [[] for _ in rows]
    x_in = x_T
    for k, step in enumerate(walk, start=1):
        if k in keep:
            labels.append(f"t = {step.t}")
            for r, row in enumerate(rows):
                xt[r].append(to_uint8(x_in[row:row + 1])[0])
                x0[r].append(to_uint8(step.x0[row:row + 1])[0])
        x_in = step.x
    labels.append("final")
    for r, row in enumerate(rows):
        final = to_uint8(x_in[row:row + 1])[0]
        xt[r].append(final)
        x0[r].append(final)
    return labels, xt, x0


def picture(labels: Sequence[str], rows: Sequence[tuple[str, Sequence[np.ndarray]]], scale: int = 6) -> np.ndarray:
    """The journey as one uint8 RGB image: a column per label, a row per (name, sprites), sprites `scale`× on white."""
    font = ImageFont.load_default(size=max(10, 2 * scale + 2))
    side, gap = 16 * scale, 2 * scale
    name_w = max(int(font.getlength(name)) for name, _ in rows) + 2 * gap
    label_h = int(font.size * 1.6)
    width = name_w + len(labels) * (side + gap) + gap
    height = label_h + len(rows) * (side + gap) + gap
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for j, label in enumerate(labels):
        x = name_w + j * (side + gap) + side // 2
        draw.text((x, label_h // 2), label, fill="black", font=font, anchor="mm")
    for i, (name, sprites) in enumerate(rows):
        y = label_h + i * (side + gap)
        draw.text((gap, y + side // 2), name, fill="black", font=font, anchor="lm")
        for j, sprite in enumerate(sprites):
            canvas.paste(Image.fromarray(upscale(sprite, scale)), (name_w + j * (side + gap), y))
    return np.asarray(canvas)
