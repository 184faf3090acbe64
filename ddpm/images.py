"""Turning sprite batches into grids, PNGs and animations (PIL and imageio)."""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from pathlib import Path

import imageio.v2
import imageio.v3 as iio
import numpy as np
from PIL import Image


def make_grid(images: np.ndarray, ncol: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile uint8 (N, H, W, 3) images into one (rows·(H+pad)+pad, …, 3) image on white."""
    n, h, w, _ = images.shape
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, ncol)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    return grid


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor: pixel art stays crisp."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def stack(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Two uint8 RGB images one above the other, the narrower padded with white on the right."""
    width = max(top.shape[1], bottom.shape[1])
    pad = lambda im: np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    return np.concatenate([pad(top), pad(bottom)])


def write_png(image: np.ndarray, path: str | Path) -> None:
    """Write one uint8 RGB image as PNG."""
    iio.imwrite(path, image, extension=".png")


def png_data_url(image: np.ndarray) -> str:
    """A uint8 RGB image as a PNG data URL: the page shows it without fetching a file from the server."""
    # Pillow directly, at zlib's fastest level: the demo encodes two of these per frame shown, and a noisy
    # grid does not compress anyway (docs/performance.md, "A classroom at once").
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def write_animation(frames: Sequence[np.ndarray], path: str | Path, fps: int = 25, hold_last: int = 25) -> None:
    """Write frames as a GIF or an MP4 (by the suffix), holding the last frame a moment."""
    path = Path(path)
    frames = list(frames) + [frames[-1]] * hold_last
    if path.suffix == ".gif":
        # Each frame's own palette by fast octree: a twelfth of the CPU of the default median cut, and sprites have
        # few colours anyway (docs/performance.md, "In the browser").
        images = [Image.fromarray(f).quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=1000 / fps, loop=0)
    elif path.suffix == ".mp4":
        # imageio-ffmpeg; H.264 wants sides divisible by 2, which pads odd frames.
        imageio.v2.mimwrite(path, frames, fps=fps, macro_block_size=2)
    else:
        raise ValueError(f"animations are .gif or .mp4, not {path.suffix!r}")

