"""Pictures of a run: one arm's view as a grid or a single sprite, the stage's PNGs, and the run as GIF, MP4 and PNG."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ddpm.images import make_grid, png_data_url, upscale, write_animation, write_png
from ddpm.journey import journey_steps, picture

from .frames import Frame


def frame_image(frame: Frame, arm: int, view: int, sprite: int | None = None) -> np.ndarray:
    """One arm's chosen view as a small uint8 image: a grid of all sprites, or one sprite."""
    images = frame.arms[arm][view]
    if sprite is not None:
        return images[min(sprite, len(images) - 1)]
    return make_grid(images, pad=1)


@functools.lru_cache(maxsize=64)
def _pictures(frame: Frame, view: int, sprite: int | None) -> tuple[str, ...]:
    # Viewers of a shared run are shown the same few frames: each is drawn and encoded once, not once a viewer.
    return tuple(png_data_url(frame_image(frame, arm, view, sprite)) for arm in range(len(frame.arms)))


def render(frame: Frame, view: int, sprite: int | None) -> dict:
    """The stage's value: each arm's chosen view as a PNG data URL (right: None without the z = 0 arm)."""
    arms = _pictures(frame, view, sprite)
    return {"left": arms[0], "right": arms[1] if len(arms) > 1 else None}


def thin(count: int, max_frames: int) -> list[int]:
    """At most `max_frames` indices of `count` frames, evenly spread, always the first and the last."""
    kept = min(max_frames, count)
    return sorted({round(i * (count - 1) / max(1, kept - 1)) for i in range(kept)})


def save_run(frames: Sequence[Frame], view: int, folder: str | Path, scale: int = 2, max_frames: int = 60) -> list[Path]:
    """The run as GIF and MP4 (arms side by side, at most `max_frames` frames, `scale`×) and the final grid as a 4× PNG."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def both(frame: Frame, factor: int) -> np.ndarray:
        parts = [frame_image(frame, arm, view) for arm in range(len(frame.arms))]
        gap = np.full((parts[0].shape[0], 4, 3), 255, np.uint8)
        return upscale(np.concatenate([p for part in parts for p in (part, gap)][:-1], axis=1), factor)

    # Small and few frames: encoding is the end of every run's wait (docs/performance.md), and players and
    # slides scale a small GIF up without blurring.
    images = [both(frames[i], scale) for i in thin(len(frames), max_frames)]
    paths = [folder / "denoising.gif", folder / "denoising.mp4", folder / "final.png"]
    write_animation(images, paths[0])
    write_animation(images, paths[1])
    write_png(both(frames[-1], 4), paths[2])
    return paths


def save_journey(frames: Sequence[Frame], sprite: int, folder: str | Path, captions: Sequence[str]) -> Path:
    """One sprite's journey from a run's kept frames, as a PNG for slides (ddpm/journey.py): its x_t and x̂0 at ten
    t evenly spread from T to 1, the frames nearest them, and its final sprite; a row per view and arm (`captions`)."""
    made = [f for f in frames if f.done > 0]  # x_T's frame has no x̂0 yet
    # Step k's x_t is the sample after k − 1 steps; its x̂0 here, the one predicted at the step that made that sample.
    steps = [min(made, key=lambda f, k=k: abs(f.done - (k - 1))) for k in journey_steps(frames[-1].total)]
    chosen = [*dict.fromkeys(f for f in steps if f is not made[-1]), made[-1]]
    labels = [f"t = {f.t}" for f in chosen[:-1]] + ["final"]
    rows = [(f"{view} ({caption})", [f.arms[arm][v][sprite] for f in chosen])
            for arm, caption in enumerate(captions[:len(frames[-1].arms)]) for view, v in (("x_t", 0), ("predicted x0", 2))]
    path = Path(folder) / f"journey_sprite{sprite + 1}.png"
    write_png(picture(labels, rows), path)
    return path
