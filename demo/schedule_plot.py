"""A small picture of the schedule (s1, s2, s3 and ᾱ_t against t) with the current t marked."""
from __future__ import annotations

import os
import tempfile
import threading
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ddpm import Schedule
from ddpm.images import write_png

SIZE = (560, 240)
MARGIN = (40, 12, 12, 28)  # left, top, right, bottom
Y_MAX = 1.2  # a little room above s1 ≈ 1
# Labels in the course's variable names: PIL's built-in font has no Greek letters or √.
CURVES = (("s1", "s1 = 1/sqrt(a_t)", (31, 119, 180)), ("s2", "s2 = (1-a_t)/sqrt(1-ab_t)", (214, 39, 40)),
          ("s3", "s3 = sqrt(b_t)", (44, 160, 44)), ("ab_t", "ab_t", (148, 103, 189)))
MARKER = (255, 127, 14)  # the line at the current t


def _xy(t: float, v: float, T: int) -> tuple[float, float]:
    left, top, right, bottom = MARGIN
    w, h = SIZE[0] - left - right, SIZE[1] - top - bottom
    return left + w * t / T, top + h * (1 - v / Y_MAX)


@lru_cache(maxsize=4)
def _base(T: int) -> Image.Image:
    """Axes, curves and legend, drawn once per schedule length."""
    schedule = Schedule(T=T)
    img = Image.new("RGB", SIZE, "white")
    d = ImageDraw.Draw(img)
    for v in (0, 0.5, 1.0):
        d.line([_xy(0, v, T), _xy(T, v, T)], fill=(225, 225, 225))
        d.text((4, _xy(0, v, T)[1] - 6), f"{v:.1f}", fill="black")
    for t in range(0, T + 1, max(1, T // 5)):
        d.text((_xy(t, 0, T)[0] - 8, SIZE[1] - MARGIN[3] + 6), str(t), fill="black")
    d.text((MARGIN[0] - 30, SIZE[1] - MARGIN[3] + 6), "t =", fill="black")
    # The legend sits where the curves leave room (late t, mid height), clear of the page's label corner.
    x, y = _xy(0.66 * T, 0.9, T)
    for i, (name, label, colour) in enumerate((*CURVES, (None, "current t", MARKER))):
        if name is not None:
            values = getattr(schedule, name)
            d.line([_xy(t, float(values[t]), T) for t in range(1, T + 1)], fill=colour, width=2)
        d.text((x, y + 14 * i), label, fill=colour)
    return img


def schedule_image(t: int | None, T: int = Schedule.T) -> np.ndarray:
    """The schedule's curves as an RGB image, with a vertical line at timestep t (none if t is None).

    Only the first call for a T computes the schedule (torch); later ones only draw (PIL)."""
    img = _base(T).copy()
    if t is not None:
        ImageDraw.Draw(img).line([_xy(t, 0, T), _xy(t, Y_MAX, T)], fill=MARKER, width=2)
    return np.asarray(img)


@cache
def _folder() -> tempfile.TemporaryDirectory:
    # Removed with the process (TemporaryDirectory's finalizer); this cache keeps it until then.
    return tempfile.TemporaryDirectory(prefix="ddpm-schedule-")


@cache
def schedule_png(t: int | None, T: int = Schedule.T) -> str:
    """The schedule picture at t as a PNG file, drawn and encoded once per t: a run sends it to every viewer as it is.

    Handing Gradio an array made it encode and store a PNG for each viewer and update (docs/performance.md)."""
    path = Path(_folder().name) / f"schedule-{T}-{t}.png"
    part = path.with_suffix(f".{threading.get_ident()}.part")
    write_png(schedule_image(t, T), part)
    os.replace(part, path)  # whole, or not there: another thread may draw the same t at once
    return str(path)
